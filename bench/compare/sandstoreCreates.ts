/**
 * Sandstore's side of the small-write rows: the `create` phase of `sandstore bench` (open
 * O_CREAT|O_EXCL + close of a new name, one client and connection per worker, warm-up then
 * timed window), at each concurrency level. The bench's directory is kept: the cluster is
 * thrown away right after, so removing tens of thousands of names would only cost time.
 */
import { Duration, Effect } from "effect"
import type { PhaseResult } from "../../src/cli/bench/phaseResult.ts"
import { runBench } from "../../src/cli/bench/runBench.ts"
import type { SmallWrites } from "./results.ts"

export interface SandstoreCreateOptions {
  readonly seeds: ReadonlyArray<string>
  readonly concurrency: ReadonlyArray<number>
  readonly duration: Duration.Duration
  readonly warmup: Duration.Duration
  readonly onRow?: (clients: number, writes: SmallWrites) => Effect.Effect<void>
  readonly log?: (line: string) => Effect.Effect<void>
}

export const smallWritesOf = (result: PhaseResult): SmallWrites => ({
  totalOps: result.totalOps,
  opsPerSec: result.opsPerSec,
  p50: result.latency?.p50,
  p99: result.latency?.p99,
  errors: result.errorCount,
  firstError: result.firstError
})

/** Unused by create, but the bench's settings require a block and file size. */
const BLOCK = 4096

export const measureSandstoreCreates = (options: SandstoreCreateOptions) =>
  Effect.gen(function*() {
    const onRow = options.onRow
    const report = yield* runBench({
      seeds: options.seeds,
      phases: ["create"],
      concurrency: options.concurrency,
      duration: options.duration,
      warmup: options.warmup,
      blockSize: BLOCK,
      fileSize: BLOCK,
      listdirEntries: 0,
      keep: true,
      ...(onRow === undefined ? {} : { onResult: (result: PhaseResult) => onRow(result.concurrency, smallWritesOf(result)) }),
      ...(options.log === undefined ? {} : { log: options.log })
    })
    return report.results.map((result) => ({ clients: result.concurrency, writes: smallWritesOf(result) }))
  })
