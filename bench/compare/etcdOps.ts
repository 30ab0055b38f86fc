/**
 * etcd's side of the small-operation rows, timed by the same measuring loop as `sandstore
 * bench` (warm-up window, then a timed window; nearest-rank percentiles):
 *   - writes: clients put a fixed-size value under a new key, back to back;
 *   - reads: clients get one existing key, back to back, with etcd's default (linearizable)
 *     consistency: each get is confirmed by a quorum, like Sandstore's ReadIndex.
 * Each client is its own etcd3 instance on its own gRPC connection (a local subchannel pool,
 * or grpc-js would share one socket between them), pointed at one member, the members taken
 * round-robin. The members' CPU time over each timed window gives CPU per operation.
 */
import { Duration, Effect } from "effect"
import { Etcd3 } from "etcd3"
import type { BenchFailed } from "../../src/bench/runBench.ts"
import { summarize } from "../../src/bench/latencies.ts"
import { runWindow, Tally, UnexpectedResult, type Worker } from "../../src/bench/measure.ts"
import { cpuMillisPerOp, type SmallOps } from "./results.ts"

export interface EtcdOpsOptions {
  readonly endpoints: ReadonlyArray<string>
  readonly concurrency: ReadonlyArray<number>
  readonly duration: Duration.Duration
  readonly warmup: Duration.Duration
  /** untimed puts, then gets, by every client before the first row */
  readonly prime: Duration.Duration
  readonly value: Uint8Array
  /** CPU seconds the members have used so far */
  readonly serverCpuSeconds: Effect.Effect<number, BenchFailed>
  /** CPU seconds this process (the clients) has used so far */
  readonly clientCpuSeconds: Effect.Effect<number, BenchFailed>
  readonly onRow?: (kind: "put" | "get", clients: number, ops: SmallOps) => Effect.Effect<void>
}

/** A client of one member, closed with the scope. */
const connect = (endpoint: string) =>
  Effect.acquireRelease(
    Effect.sync(() => new Etcd3({ hosts: `http://${endpoint}`, grpcOptions: { "grpc.use_local_subchannel_pool": 1 } })),
    (client) => Effect.sync(() => client.close())
  )

const etcdCall = <A>(what: string, run: () => Promise<A>) =>
  Effect.tryPromise({
    try: run,
    catch: (cause) => new UnexpectedResult({ message: `${what}: ${cause instanceof Error ? cause.message : String(cause)}` })
  })

const putter = (client: Etcd3, prefix: string, value: Buffer): Worker => {
  let next = 0
  return {
    prepare: Effect.void,
    operation: etcdCall("put", () => client.put(`${prefix}-${next++}`).value(value).exec()).pipe(Effect.as(value.length))
  }
}

const getter = (client: Etcd3, key: string, value: Buffer): Worker => ({
  prepare: Effect.void,
  operation: Effect.flatMap(etcdCall("get", () => client.get(key).buffer()), (found) =>
    found !== null && found.length === value.length
      ? Effect.succeed(0)
      : Effect.fail(new UnexpectedResult({ message: `get ${key}: ${found === null ? "no such key" : `${found.length} bytes`}` })))
})

/** One warm-up and one timed window of `workers`, summarized with the servers' CPU per operation. */
export const measureRow = (
  workers: ReadonlyArray<Worker>,
  duration: Duration.Duration,
  warmup: Duration.Duration,
  serverCpuSeconds: Effect.Effect<number, BenchFailed>,
  clientCpuSeconds: Effect.Effect<number, BenchFailed>
) =>
  Effect.gen(function*() {
    if (Duration.greaterThan(warmup, Duration.zero)) yield* runWindow(workers, warmup, new Tally())
    const tally = new Tally()
    const cpuBefore = yield* serverCpuSeconds
    const clientBefore = yield* clientCpuSeconds
    const elapsed = yield* runWindow(workers, duration, tally)
    const cpuAfter = yield* serverCpuSeconds
    const clientAfter = yield* clientCpuSeconds
    const latency = summarize(tally.samples)
    const ops: SmallOps = {
      totalOps: tally.ops,
      opsPerSec: elapsed > 0 ? tally.ops / elapsed : 0,
      p50: latency?.p50,
      p99: latency?.p99,
      errors: tally.errors,
      firstError: tally.firstError,
      cpuMillisPerOp: cpuMillisPerOp(cpuAfter - cpuBefore, tally.ops),
      clientCpuMillisPerOp: cpuMillisPerOp(clientAfter - clientBefore, tally.ops)
    }
    return ops
  })

export interface EtcdRow {
  readonly clients: number
  readonly ops: SmallOps
}

/** Put rows then get rows, one per concurrency level; the clients are connected once, for the highest level. */
export const measureEtcdOps = (options: EtcdOpsOptions) =>
  Effect.scoped(Effect.gen(function*() {
    const count = Math.max(...options.concurrency)
    const clients = yield* Effect.forEach(
      Array.from({ length: count }, (_, i) => options.endpoints[i % options.endpoints.length]!),
      connect
    )
    const value = Buffer.from(options.value)
    const measure = (kind: "put" | "get", make: (client: Etcd3, level: number, worker: number) => Worker) =>
      Effect.gen(function*() {
        const rows: Array<EtcdRow> = []
        for (const level of options.concurrency) {
          const workers = clients.slice(0, level).map((client, i) => make(client, level, i))
          const ops = yield* measureRow(workers, options.duration, options.warmup, options.serverCpuSeconds, options.clientCpuSeconds)
          rows.push({ clients: level, ops })
          if (options.onRow !== undefined) yield* options.onRow(kind, level, ops)
        }
        return rows
      })
    const existing = "/compare/existing"
    yield* etcdCall("put", () => clients[0]!.put(existing).value(value).exec())
    if (Duration.greaterThan(options.prime, Duration.zero)) {
      yield* runWindow(clients.map((client, i) => putter(client, `/compare/prime-w${i}`, value)), options.prime, new Tally())
      yield* runWindow(clients.map((client) => getter(client, existing, value)), options.prime, new Tally())
    }
    const puts = yield* measure("put", (client, level, i) => putter(client, `/compare/c${level}-w${i}`, value))
    const gets = yield* measure("get", (client) => getter(client, existing, value))
    return { puts, gets }
  }))
