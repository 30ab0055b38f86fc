/**
 * etcd's side of the small-write rows: clients that put a fixed-size value under a new key,
 * back to back, timed by the same measuring loop as `sandstore bench` (warm-up window, then a
 * timed window; nearest-rank percentiles). Each client is its own etcd3 instance on its own
 * gRPC connection (a local subchannel pool, or grpc-js would share one socket between them),
 * pointed at one member, the members taken round-robin.
 */
import { Duration, Effect } from "effect"
import { Etcd3 } from "etcd3"
import { summarize } from "../../src/cli/bench/latencies.ts"
import { runWindow, Tally, UnexpectedResult, type Worker } from "../../src/cli/bench/measure.ts"
import type { SmallWrites } from "./results.ts"

export interface EtcdPutOptions {
  readonly endpoints: ReadonlyArray<string>
  readonly concurrency: ReadonlyArray<number>
  readonly duration: Duration.Duration
  readonly warmup: Duration.Duration
  readonly value: Uint8Array
  readonly onRow?: (clients: number, writes: SmallWrites) => Effect.Effect<void>
}

/** A client of one member, closed with the scope. */
const connect = (endpoint: string) =>
  Effect.acquireRelease(
    Effect.sync(() => new Etcd3({ hosts: `http://${endpoint}`, grpcOptions: { "grpc.use_local_subchannel_pool": 1 } })),
    (client) => Effect.sync(() => client.close())
  )

const putter = (client: Etcd3, prefix: string, value: Buffer): Worker => {
  let next = 0
  return {
    prepare: Effect.void,
    operation: Effect.tryPromise({
      try: () => client.put(`${prefix}-${next++}`).value(value).exec(),
      catch: (cause) => new UnexpectedResult({ message: `put: ${cause instanceof Error ? cause.message : String(cause)}` })
    }).pipe(Effect.as(value.length))
  }
}

/** One warm-up and one timed window of `workers`, summarized. */
export const measureRow = (workers: ReadonlyArray<Worker>, duration: Duration.Duration, warmup: Duration.Duration) =>
  Effect.gen(function*() {
    if (Duration.greaterThan(warmup, Duration.zero)) yield* runWindow(workers, warmup, new Tally())
    const tally = new Tally()
    const elapsed = yield* runWindow(workers, duration, tally)
    const latency = summarize(tally.samples)
    const writes: SmallWrites = {
      totalOps: tally.ops,
      opsPerSec: elapsed > 0 ? tally.ops / elapsed : 0,
      p50: latency?.p50,
      p99: latency?.p99,
      errors: tally.errors,
      firstError: tally.firstError
    }
    return writes
  })

/** A row per concurrency level, in order; the clients are connected once, for the highest level. */
export const measureEtcdPuts = (options: EtcdPutOptions) =>
  Effect.scoped(Effect.gen(function*() {
    const count = Math.max(...options.concurrency)
    const clients = yield* Effect.forEach(
      Array.from({ length: count }, (_, i) => options.endpoints[i % options.endpoints.length]!),
      connect
    )
    const value = Buffer.from(options.value)
    const rows: Array<{ readonly clients: number; readonly writes: SmallWrites }> = []
    for (const level of options.concurrency) {
      const workers = clients.slice(0, level).map((client, i) => putter(client, `/compare/c${level}-w${i}`, value))
      const writes = yield* measureRow(workers, options.duration, options.warmup)
      rows.push({ clients: level, writes })
      if (options.onRow !== undefined) yield* options.onRow(level, writes)
    }
    return rows
  }))
