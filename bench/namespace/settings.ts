/** What one `npm run bench:namespace` does, from its command line (counts as plain integers). */
import { Either } from "effect"
import { parseConcurrency, parseSize } from "../../src/bench/arguments.ts"

export const USAGE = [
  "usage: npm run bench:namespace [-- --files 1000000] [--dirs 1000] [--concurrency 64] [--report-every 50000] [--lag-files 16000]",
  "  --files         empty files to create (spread evenly over the directories)",
  "  --dirs          directories holding them",
  "  --concurrency   clients creating at once, each on its own connection",
  "  --report-every  files between two create/s lines",
  "  --lag-files     at the end, files created while one follower is stopped, so that it catches up",
  "                  by a snapshot of the whole namespace as creates go on (0: skip)"
].join("\n")

const DEFAULTS: Record<string, string> = {
  files: "1000000",
  dirs: "1000",
  concurrency: "64",
  "report-every": "50000",
  "lag-files": "16000"
}

export interface NamespaceSettings {
  readonly files: number
  readonly dirs: number
  readonly concurrency: number
  readonly reportEvery: number
  readonly lagFiles: number
}

export const parseNamespaceArguments = (argv: ReadonlyArray<string>): Either.Either<NamespaceSettings | "help", string> =>
  Either.gen(function*() {
    const values: Record<string, string> = { ...DEFAULTS }
    for (let i = 0; i < argv.length; i++) {
      const item = argv[i]!
      if (item === "--help" || item === "-h") return "help" as const
      const match = /^--([a-z-]+)(?:=(.*))?$/.exec(item)
      if (match === null || !(match[1]! in DEFAULTS)) return yield* Either.left(`unknown argument "${item}"`)
      const value = match[2] ?? argv[++i]
      if (value === undefined) return yield* Either.left(`--${match[1]} needs a value`)
      values[match[1]!] = value
    }
    // Counts go through the size parser (plain integers); concurrency through the bench's.
    const files = yield* parseSize(values.files!)
    const dirs = yield* parseSize(values.dirs!)
    const reportEvery = yield* parseSize(values["report-every"]!)
    // 0 is allowed here: it skips the catch-up.
    const lagFiles = /^\d+$/.test(values["lag-files"]!)
      ? Number(values["lag-files"])
      : yield* Either.left(`--lag-files takes a whole number of files, not "${values["lag-files"]}"`)
    const levels = yield* parseConcurrency(values.concurrency!)
    if (levels.length !== 1) return yield* Either.left("--concurrency takes one number")
    const concurrency = levels[0]!
    if (files < 1 || dirs < 1 || reportEvery < 1) return yield* Either.left("--files, --dirs and --report-every must be at least 1")
    return { files, dirs, concurrency, reportEvery, lagFiles }
  })

