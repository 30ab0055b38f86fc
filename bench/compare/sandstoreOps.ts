/**
 * Sandstore's side of the small-operation rows: the `create` phase of `sandstore bench`
 * (open O_CREAT|O_EXCL + close of a new name) and its `stat` phase (stat of an existing file,
 * a linearizable read), one client and connection per worker, warm-up then timed window, at
 * each concurrency level, with the nodes' CPU time over each timed window. The bench's
 * directory is kept: the cluster is thrown away right after, so removing tens of thousands of
 * names would only cost time.
 */
import { Duration, Effect } from "effect"
import type { PhaseResult } from "../../src/bench/phaseResult.ts"
import { type BenchFailed, runBench } from "../../src/bench/runBench.ts"
import { cpuMillisPerOp, type SmallOps } from "./results.ts"

export interface SandstoreOpsOptions {
  readonly seeds: ReadonlyArray<string>
  readonly concurrency: ReadonlyArray<number>
  readonly duration: Duration.Duration
  readonly warmup: Duration.Duration
  /** untimed creates, then stats, at the highest concurrency before the first row */
  readonly prime: Duration.Duration
  /** CPU seconds the nodes have used so far */
  readonly serverCpuSeconds: Effect.Effect<number, BenchFailed>
  /** CPU seconds this process (the clients) has used so far */
  readonly clientCpuSeconds: Effect.Effect<number, BenchFailed>
  readonly onRow?: (kind: "create" | "stat", clients: number, ops: SmallOps) => Effect.Effect<void>
  readonly log?: (line: string) => Effect.Effect<void>
}

export const smallOpsOf = (result: PhaseResult): SmallOps => ({
  totalOps: result.totalOps,
  opsPerSec: result.opsPerSec,
  p50: result.latency?.p50,
  p99: result.latency?.p99,
  errors: result.errorCount,
  firstError: result.firstError,
  cpuMillisPerOp: cpuMillisPerOp(result.serverCpuSeconds, result.totalOps),
  clientCpuMillisPerOp: cpuMillisPerOp(result.clientCpuSeconds, result.totalOps)
})

/** Unused by create and stat, but the bench's settings require a block and file size. */
const BLOCK = 4096

export const measureSandstoreOps = (options: SandstoreOpsOptions) =>
  Effect.gen(function*() {
    const onRow = options.onRow
    // Create then stat, one client and connection per worker; the directory is kept (see above).
    const workload = {
      seeds: options.seeds,
      phases: ["create", "stat"] as const,
      blockSize: BLOCK,
      fileSize: BLOCK,
      listdirEntries: 0,
      keep: true,
      ...(options.log === undefined ? {} : { log: options.log })
    }
    if (Duration.greaterThan(options.prime, Duration.zero)) {
      yield* runBench({
        ...workload,
        concurrency: [Math.max(...options.concurrency)],
        duration: options.prime,
        warmup: Duration.zero
      })
    }
    const report = yield* runBench({
      ...workload,
      concurrency: options.concurrency,
      duration: options.duration,
      warmup: options.warmup,
      serverCpuSeconds: options.serverCpuSeconds,
      clientCpuSeconds: options.clientCpuSeconds,
      ...(onRow === undefined
        ? {}
        : { onResult: (result: PhaseResult) => onRow(result.operation === "stat" ? "stat" : "create", result.concurrency, smallOpsOf(result)) })
    })
    const rows = (phase: "create" | "stat") =>
      report.results
        .filter((result) => result.operation === phase)
        .map((result) => ({ clients: result.concurrency, ops: smallOpsOf(result) }))
    return { creates: rows("create"), stats: rows("stat") }
  })
