/**
 * What one `npm run bench:compare` measures, from its command line. Values use the same
 * notation as `sandstore bench` (10s, 256MiB, 1,16,64) and go through its parsers.
 */
import { Duration, Either } from "effect"
import { parseConcurrency, parseDuration, parseSize } from "../../src/bench/arguments.ts"

export interface CompareSettings {
  /** the timed window of each small-write row */
  readonly duration: Duration.Duration
  /** the untimed window before it */
  readonly warmup: Duration.Duration
  /**
   * An untimed run of each operation at the highest concurrency before a system's first row:
   * a server that has run for a while has its hot code compiled (V8 optimizes ours over the
   * first thousands of requests), which a row at one client would otherwise pay for.
   */
  readonly prime: Duration.Duration
  /** concurrent clients of each small-write row, each on its own connection */
  readonly concurrency: ReadonlyArray<number>
  /** bytes of the large file written and read */
  readonly fileSize: number
  /** only the small-operation rows (a partial run: the README is left as it is) */
  readonly smallOnly: boolean
}

export const USAGE = [
  "usage: npm run bench:compare [-- --duration 10s] [--warmup 2s] [--prime 15s] [--concurrency 1,16,64] [--file-size 256MiB] [--small-only]",
  "  --duration     timed window of each etcd put / Sandstore create row (ms, s or m)",
  "  --warmup       untimed window before each row",
  "  --prime        untimed run of each operation at the highest concurrency before a system's first row (0 for none)",
  "  --concurrency  clients per row, each with its own connection",
  "  --file-size    bytes of the large file (B, KiB, MiB, GiB)",
  "  --small-only   skip the large file and the disk (results are written, the README is not updated)"
].join("\n")

// The prime is long enough for V8 to finish compiling a node's hot code: under create load the
// optimizing compiler took 15-19% of each node's CPU over the first ~20 s and 1-3% after 30 s
// (perf), and that one-time cost would otherwise land in the first rows' CPU per operation.
const DEFAULTS: Record<string, string> = { duration: "10s", warmup: "2s", prime: "15s", concurrency: "1,16,64", "file-size": "256MiB" }

export type ParsedArguments =
  | { readonly _tag: "Run"; readonly settings: CompareSettings }
  | { readonly _tag: "Help" }

/** `--name value` and `--name=value` pairs; anything else is a message for the user. */
const pairs = (argv: ReadonlyArray<string>): Either.Either<Record<string, string> | "help", string> => {
  const values: Record<string, string> = { ...DEFAULTS }
  for (let i = 0; i < argv.length; i++) {
    const item = argv[i]!
    if (item === "--help" || item === "-h") return Either.right("help")
    if (item === "--small-only") {
      values["small-only"] = "yes"
      continue
    }
    const match = /^--([a-z-]+)(?:=(.*))?$/.exec(item)
    if (match === null || !(match[1]! in DEFAULTS)) return Either.left(`unknown argument "${item}"`)
    const value = match[2] ?? argv[++i]
    if (value === undefined) return Either.left(`--${match[1]} needs a value`)
    values[match[1]!] = value
  }
  return Either.right(values)
}

export const parseCompareArguments = (argv: ReadonlyArray<string>): Either.Either<ParsedArguments, string> =>
  Either.gen(function*() {
    const values = yield* pairs(argv)
    if (values === "help") return { _tag: "Help" } as const
    const duration = yield* parseDuration(values.duration!)
    if (!Duration.greaterThan(duration, Duration.zero)) return yield* Either.left("the duration must be positive")
    const warmup = yield* parseDuration(values.warmup!)
    const prime = yield* parseDuration(values.prime!)
    const concurrency = yield* parseConcurrency(values.concurrency!)
    const fileSize = yield* parseSize(values["file-size"]!)
    const smallOnly = values["small-only"] === "yes"
    return { _tag: "Run", settings: { duration, warmup, prime, concurrency, fileSize, smallOnly } } as const
  })
