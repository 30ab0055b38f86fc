/**
 * The bench as one Effect: pre-flight, then every phase at every concurrency level in the order
 * given, each a warm-up window (untimed) and a timed window, then removal of the run's
 * directory. The directory's removal is also a finalizer, so a failed or interrupted run cleans
 * up too (unless asked to keep it).
 */
import { Clock, Data, Duration, Effect, Either, Random, Schedule, type Scope } from "effect"
import { InvalidArgument } from "../domain/errors.ts"
import { crc32c } from "../lib/crc32c.ts"
import type { ClientError } from "../client/errors.ts"
import type { SandstoreClientShape } from "../client/SandstoreClient.ts"
import type { Communicator } from "../services/Communicator.ts"
import { patternBytes } from "../lib/patternBytes.ts"
import { BlockPattern } from "./dataFiles.ts"
import { summarize } from "./latencies.ts"
import { describeFailure, runWindow, Tally, type Worker } from "./measure.ts"
import { type BenchContext, makeContext, setUpWorkers } from "./phases.ts"
import { movesBytes, type PhaseName, type PhaseResult } from "./phaseResult.ts"
import { connectClient, preflight, type PreflightFailed } from "./preflight.ts"
import { removeTree } from "./removeTree.ts"
import { type BenchSettings, validateSettings } from "./settings.ts"

/** A phase could not be set up after the pre-flight held (e.g. its files could not be made). */
export class BenchFailed extends Data.TaggedError("BenchFailed")<{ readonly message: string }> {}

export interface Progress {
  readonly phase: PhaseName
  readonly concurrency: number
  readonly stage: "warm-up" | "timed"
  /** successful operations so far in this window */
  readonly ops: number
  readonly errors: number
  readonly elapsedSeconds: number
}

export interface BenchOptions<E, R> extends BenchSettings {
  readonly seeds: ReadonlyArray<string>
  /** keep the run's directory (default: remove it) */
  readonly keep?: boolean
  /** names the directory and seeds the data (default: random from `Random`) */
  readonly runId?: string
  /** called with each result as soon as its run ends */
  readonly onResult?: (result: PhaseResult) => Effect.Effect<void, E, R>
  /** called about every `progressInterval` while a window runs */
  readonly onProgress?: (progress: Progress) => Effect.Effect<void>
  readonly progressInterval?: Duration.DurationInput
  /**
   * CPU seconds the servers have used so far (e.g. summed from /proc for local processes):
   * read before and after each timed window, the difference goes in the result.
   */
  readonly serverCpuSeconds?: Effect.Effect<number, BenchFailed>
  /** CPU seconds this process has used so far: with it, each result says what its clients cost */
  readonly clientCpuSeconds?: Effect.Effect<number, BenchFailed>
  /** Bytes the servers have written to storage so far (e.g. /proc/<pid>/io): read around each timed window, like the CPU */
  readonly serverWrittenBytes?: Effect.Effect<number, BenchFailed>
  /** one-line notices: pre-flight passed, directory removed */
  readonly log?: (line: string) => Effect.Effect<void>
}

export type Cleanup =
  | { readonly _tag: "Removed"; readonly names: number }
  | { readonly _tag: "Kept" }
  | { readonly _tag: "Failed"; readonly reason: string }

export interface BenchReport {
  readonly runId: string
  /** the directory the run worked in */
  readonly directory: string
  readonly results: ReadonlyArray<PhaseResult>
  readonly cleanup: Cleanup
}

/** Removal requests in flight at once. */
const REMOVAL_CONCURRENCY = 16

const MiB = 1024 * 1024

const hex32 = Effect.map(Random.nextIntBetween(0, 2 ** 32), (n) => n.toString(16).padStart(8, "0"))

/** Runs `window`, reporting its tally every `interval` meanwhile. */
const withProgress = (
  window: Effect.Effect<number>,
  tally: Tally,
  describe: Omit<Progress, "ops" | "errors" | "elapsedSeconds">,
  onProgress: ((progress: Progress) => Effect.Effect<void>) | undefined,
  interval: Duration.DurationInput
): Effect.Effect<number> => {
  if (onProgress === undefined) return window
  return Effect.scoped(Effect.gen(function*() {
    const start = yield* Clock.currentTimeMillis
    const report = Effect.flatMap(Clock.currentTimeMillis, (now) =>
      onProgress({ ...describe, ops: tally.ops, errors: tally.errors, elapsedSeconds: (now - start) / 1000 }))
    yield* Effect.forkScoped(Effect.repeat(report, Schedule.spaced(interval)))
    return yield* window
  }))
}

/**
 * Creates the run's directory and registers its removal with the scope (unless `keep`).
 * Resolves with the removal itself, cached: the run removes the directory at its end, and the
 * finalizer then finds it done.
 */
const ownDirectory = (
  client: SandstoreClientShape,
  directory: string,
  keep: boolean,
  log: (line: string) => Effect.Effect<void>
): Effect.Effect<Effect.Effect<Cleanup>, ClientError, Scope.Scope> =>
  Effect.gen(function*() {
    const removal = yield* Effect.cached(
      removeTree(client, directory, REMOVAL_CONCURRENCY).pipe(
        Effect.match({
          onSuccess: (names): Cleanup => ({ _tag: "Removed", names }),
          onFailure: (error): Cleanup => ({ _tag: "Failed", reason: describeFailure(error) })
        }),
        Effect.tap((outcome) => outcome._tag === "Failed" ? log(`could not remove ${directory}: ${outcome.reason}`) : Effect.void)
      )
    )
    const cleanup: Effect.Effect<Cleanup> = keep ? Effect.succeed({ _tag: "Kept" }) : removal
    yield* Effect.acquireRelease(client.mkdir(directory), () => cleanup)
    return cleanup
  })

const runLevel = <E, R>(
  context: BenchContext,
  options: BenchOptions<E, R>,
  phase: PhaseName,
  concurrency: number
): Effect.Effect<PhaseResult, BenchFailed> =>
  Effect.scoped(Effect.gen(function*() {
    const workers: ReadonlyArray<Worker> = yield* setUpWorkers[phase](context, concurrency).pipe(
      Effect.mapError((error) =>
        new BenchFailed({ message: `${phase} at concurrency ${concurrency}: setting up failed: ${describeFailure(error)}` })
      )
    )
    const interval = options.progressInterval ?? "1 second"
    if (Duration.greaterThan(options.warmup, Duration.zero)) {
      const warm = new Tally()
      yield* withProgress(runWindow(workers, options.warmup, warm), warm, { phase, concurrency, stage: "warm-up" }, options.onProgress, interval)
    }
    const tally = new Tally()
    const cpuBefore = options.serverCpuSeconds === undefined ? undefined : yield* options.serverCpuSeconds
    const clientBefore = options.clientCpuSeconds === undefined ? undefined : yield* options.clientCpuSeconds
    const writtenBefore = options.serverWrittenBytes === undefined ? undefined : yield* options.serverWrittenBytes
    const elapsed = yield* withProgress(
      runWindow(workers, options.duration, tally),
      tally,
      { phase, concurrency, stage: "timed" },
      options.onProgress,
      interval
    )
    const cpuAfter = options.serverCpuSeconds === undefined ? undefined : yield* options.serverCpuSeconds
    const clientAfter = options.clientCpuSeconds === undefined ? undefined : yield* options.clientCpuSeconds
    const writtenAfter = options.serverWrittenBytes === undefined ? undefined : yield* options.serverWrittenBytes
    const bytes = movesBytes(phase)
    const result: PhaseResult = {
      operation: phase,
      concurrency,
      blockSizeBytes: bytes ? options.blockSize : undefined,
      latency: summarize(tally.samples),
      totalOps: tally.ops,
      errorCount: tally.errors,
      firstError: tally.firstError,
      elapsedSeconds: elapsed,
      opsPerSec: elapsed > 0 ? tally.ops / elapsed : 0,
      mibPerSec: bytes ? (elapsed > 0 ? tally.bytes / MiB / elapsed : 0) : undefined,
      ...(cpuBefore === undefined || cpuAfter === undefined ? {} : { serverCpuSeconds: cpuAfter - cpuBefore }),
      ...(clientBefore === undefined || clientAfter === undefined ? {} : { clientCpuSeconds: clientAfter - clientBefore }),
      ...(writtenBefore === undefined || writtenAfter === undefined ? {} : { serverWrittenBytes: writtenAfter - writtenBefore })
    }
    return result
  }))

export const runBench = <E = never, R = never>(
  options: BenchOptions<E, R>
): Effect.Effect<BenchReport, PreflightFailed | BenchFailed | InvalidArgument | E, Communicator | R> =>
  Effect.scoped(Effect.gen(function*() {
    const invalid = validateSettings(options)
    if (Either.isLeft(invalid)) return yield* new InvalidArgument({ message: invalid.left })
    const log = options.log ?? (() => Effect.void)
    const runId = options.runId ?? (yield* hex32)
    const directory = `/bench-${runId}`
    const seed = crc32c(new TextEncoder().encode(runId))

    const { client: first, value: cleanup } = yield* preflight({
      seeds: options.seeds,
      directory,
      bytes: patternBytes(4096, seed),
      ownDirectory: (client) => ownDirectory(client, directory, options.keep === true, log)
    })
    yield* log(`pre-flight passed: working in ${directory} (run ${runId})`)

    const levels = options.concurrency
    const workerCount = Math.max(...levels)
    const others = yield* Effect.forEach(
      Array.from({ length: workerCount - 1 }),
      () => connectClient(options.seeds),
      { concurrency: "unbounded" }
    ).pipe(Effect.mapError((error) => new BenchFailed({ message: `connecting ${workerCount} clients: ${describeFailure(error)}` })))

    const context = yield* makeContext({
      directory,
      clients: [first, ...others],
      blockSize: options.blockSize,
      fileSize: options.fileSize,
      listdirEntries: options.listdirEntries,
      pattern: new BlockPattern(options.blockSize, seed)
    })

    const results: Array<PhaseResult> = []
    for (const phase of options.phases) {
      for (const concurrency of levels) {
        const result = yield* runLevel(context, options, phase, concurrency)
        results.push(result)
        if (options.onResult !== undefined) yield* options.onResult(result)
      }
    }

    const outcome = yield* cleanup
    if (outcome._tag === "Removed") yield* log(`removed ${directory} (${outcome.names} names)`)
    return { runId, directory, results, cleanup: outcome }
  }))
