/**
 * Sandstore's small-write row: the `overwrite` phase of `sandstore bench` — one client writes
 * and syncs a 4 KiB block at a random aligned offset of its own 64 MiB file (written untimed
 * first) — with the nodes' CPU time and the bytes they wrote to storage over the timed window.
 * The bytes per operation show what a small write costs the disk across the replicas.
 */
import { type Duration, Effect } from "effect"
import { type BenchFailed, runBench } from "../../src/bench/runBench.ts"
import type { SmallWrites } from "./results.ts"
import { smallOpsOf } from "./sandstoreOps.ts"

export const OVERWRITE_BLOCK = 4096
export const OVERWRITE_FILE = 64 * 1024 * 1024

export interface OverwriteOptions {
  readonly seeds: ReadonlyArray<string>
  readonly duration: Duration.Duration
  readonly warmup: Duration.Duration
  /** CPU seconds the nodes have used so far */
  readonly serverCpuSeconds: Effect.Effect<number, BenchFailed>
  /** bytes the nodes have written to storage so far */
  readonly serverWrittenBytes: Effect.Effect<number, BenchFailed>
}

export const measureOverwrite = (options: OverwriteOptions) =>
  Effect.gen(function*() {
    const report = yield* runBench({
      seeds: options.seeds,
      phases: ["overwrite"],
      concurrency: [1],
      blockSize: OVERWRITE_BLOCK,
      fileSize: OVERWRITE_FILE,
      listdirEntries: 0,
      // The cluster is thrown away right after.
      keep: true,
      duration: options.duration,
      warmup: options.warmup,
      serverCpuSeconds: options.serverCpuSeconds,
      serverWrittenBytes: options.serverWrittenBytes
    })
    const result = report.results[0]!
    const written = result.serverWrittenBytes
    const overwrite: SmallWrites = {
      fileSize: OVERWRITE_FILE,
      blockBytes: OVERWRITE_BLOCK,
      ops: smallOpsOf(result),
      writtenBytesPerOp: written === undefined || result.totalOps === 0 ? undefined : written / result.totalOps
    }
    return overwrite
  })
