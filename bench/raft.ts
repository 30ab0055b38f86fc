/**
 * Raft commit throughput and latency: a 3-node cluster in this process, each node with the
 * real segmented-file WAL (fsync per group commit) and a classic-level metadata store in a temp
 * dir, over the in-memory network and over TCP loopback (RaftApi through TcpCommunicator).
 * Proposers call the leader's `propose` with Create commands of unique names, back to back, for
 * a fixed time at each concurrency; a proposal counts once the leader has applied it (durable
 * on a majority, applied here). Percentiles are nearest-rank.
 *
 * Run: npm run bench:raft [-- --seconds 5 --concurrency 1,16,64 --transports memory,tcp]
 */
import { NodeRuntime } from "@effect/platform-node"
import { Console, Context, Effect, Layer, Schedule } from "effect"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { MetadataServiceClassicLevel } from "../layers/metadata/classicLevel.ts"
import { makeMemoryNetwork } from "../layers/raftTransport/memory.ts"
import { RaftApiHandlers, RaftTransportRpc } from "../layers/raftTransport/rpc.ts"
import { RaftReplicator, type RaftReplicatorOptions } from "../layers/replicator/raft.ts"
import { TcpCommunicator } from "../layers/transport/tcp.ts"
import { WriteAheadLogFile } from "../layers/wal/segmentedFile.ts"
import { SnapshotStoreFiles } from "../layers/snapshots/files.ts"
import { ROOT_INODE } from "../src/domain/fs.ts"
import { RaftApi } from "../src/protocol/RaftApi.ts"
import { Communicator } from "../src/services/Communicator.ts"
import { EndpointResolver } from "../src/services/EndpointResolver.ts"
import { MetadataReplicator, type MetadataReplicatorShape } from "../src/services/MetadataReplicator.ts"
import type { RaftTransport } from "../src/services/RaftTransport.ts"

const argument = (name: string, fallback: string) => {
  const at = process.argv.indexOf(`--${name}`)
  return at >= 0 && process.argv[at + 1] !== undefined ? process.argv[at + 1]! : fallback
}

const seconds = Number(argument("seconds", "5"))
const concurrencies = argument("concurrency", "1,16,64").split(",").map(Number)
const transports = argument("transports", "memory,tcp").split(",")
const ids = ["n1", "n2", "n3"]

/** No batch wait: the driver's group commit already batches whatever arrives during an fsync. */
const replicatorOptions: Partial<RaftReplicatorOptions> = {
  batchWaitMillis: Number(argument("batch-wait", "0")),
  snapshotThreshold: Number(argument("snapshot-threshold", "10000"))
}

const nearestRank = (sorted: ReadonlyArray<number>, p: number) =>
  sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)] ?? NaN

/** One node's storage and replicator, given how it reaches the others. */
const nodeLayer = (dir: string, id: string, transport: Layer.Layer<RaftTransport, never, never>, resolver: Layer.Layer<EndpointResolver>) =>
  RaftReplicator({ ...replicatorOptions, nodeId: id, voters: ids }).pipe(
    Layer.provide(Layer.mergeAll(
      WriteAheadLogFile({ dir: join(dir, id, "wal") }),
      SnapshotStoreFiles({ dir: join(dir, id, "snapshots") }),
      MetadataServiceClassicLevel({ path: join(dir, id, "metadata"), chunkSize: 8 * 1024 * 1024 }),
      transport,
      resolver
    ))
  )

const replicatorOf = <E>(layer: Layer.Layer<MetadataReplicator, E>) =>
  Effect.map(Layer.build(layer), (context) => Context.get(context, MetadataReplicator))

const staticResolver = (addresses: Record<string, string>) =>
  Layer.succeed(EndpointResolver, EndpointResolver.of({ resolve: (id) => Effect.succeed(addresses[id] ?? "127.0.0.1:1") }))

const memoryCluster = (dir: string) =>
  Effect.gen(function*() {
    const network = yield* makeMemoryNetwork()
    const resolver = staticResolver({})
    return yield* Effect.forEach(ids, (id) => replicatorOf(nodeLayer(dir, id, network.transport(id), resolver)))
  })

/** Each node listens on a loopback port and serves RaftApi into its own transport's inbox. */
const tcpCluster = (dir: string) =>
  Effect.gen(function*() {
    const communicator = yield* Communicator
    // Filled in as each node binds its port; senders resolve a peer on their first message.
    const addresses: Record<string, string> = {}
    const resolver = staticResolver(addresses)
    return yield* Effect.forEach(ids, (id) =>
      Effect.gen(function*() {
        const transport = yield* Layer.build(RaftTransportRpc().pipe(Layer.provide(resolver)))
        addresses[id] = yield* communicator.serve(RaftApi, "127.0.0.1:0").pipe(
          Effect.provide(RaftApiHandlers.pipe(Layer.provide(Layer.succeedContext(transport))))
        )
        return yield* replicatorOf(nodeLayer(dir, id, Layer.succeedContext(transport), resolver))
      }))
  })

const leaderOf = (nodes: ReadonlyArray<MetadataReplicatorShape>) =>
  Effect.gen(function*() {
    for (const node of nodes) {
      const status = yield* node.status
      if (status.role === "leader") return node
    }
    return yield* Effect.fail("no leader yet")
  }).pipe(Effect.retry(Schedule.spaced("50 millis").pipe(Schedule.upTo("30 seconds"))))

let nameCounter = 0

/** `concurrency` proposers for `seconds`; returns commits per second and latency percentiles (ms). */
const measure = (leader: MetadataReplicatorShape, concurrency: number) =>
  Effect.gen(function*() {
    const latencies: Array<number> = []
    let errors = 0
    const deadline = performance.now() + seconds * 1000
    const proposer = Effect.gen(function*() {
      while (performance.now() < deadline) {
        const name = `f${nameCounter++}`
        const start = performance.now()
        const exit = yield* Effect.exit(leader.propose({
          _tag: "Create", parent: ROOT_INODE, name, mode: 0o644, uid: 0, gid: 0, exclusive: true, now: 0
        }))
        if (exit._tag === "Success") latencies.push(performance.now() - start)
        else errors++
      }
    })
    const started = performance.now()
    yield* Effect.all(Array.from({ length: concurrency }, () => proposer), { concurrency: "unbounded", discard: true })
    const elapsed = (performance.now() - started) / 1000
    latencies.sort((a, b) => a - b)
    return {
      perSecond: latencies.length / elapsed,
      p50: nearestRank(latencies, 50),
      p99: nearestRank(latencies, 99),
      errors
    }
  })

const run = (transport: string) =>
  Effect.scoped(Effect.gen(function*() {
    const dir = yield* Effect.acquireRelease(
      Effect.sync(() => mkdtempSync(join(tmpdir(), "sandstore-bench-raft-"))),
      (path) => Effect.sync(() => rmSync(path, { recursive: true, force: true }))
    )
    const nodes = transport === "tcp" ? yield* tcpCluster(dir) : yield* memoryCluster(dir)
    const leader = yield* leaderOf(nodes)
    yield* measure(leader, 4).pipe(Effect.timeout("1 second"), Effect.ignore) // warm-up: JIT, connections
    for (const concurrency of concurrencies) {
      const result = yield* measure(leader, concurrency)
      yield* Console.log(
        [
          transport.padEnd(9),
          String(concurrency).padStart(11),
          result.perSecond.toFixed(0).padStart(12),
          result.p50.toFixed(2).padStart(9),
          result.p99.toFixed(2).padStart(9),
          String(result.errors).padStart(7)
        ].join(" ")
      )
    }
  }))

const program = Effect.gen(function*() {
  yield* Console.log(`3 voters, real WAL + classic-level on disk, ${seconds} s per row; latency in ms`)
  yield* Console.log("transport concurrency  commits/s       p50       p99  errors")
  for (const transport of transports) yield* run(transport)
})

program.pipe(Effect.provide(TcpCommunicator), NodeRuntime.runMain)
