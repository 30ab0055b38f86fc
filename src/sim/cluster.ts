/**
 * A simulated cluster: N nodes of the simulated topology in one process, on one simulated
 * network, each with simulated disks that outlive it. A crash is a power loss: the node's disks
 * lose what was not synced, then its scope closes (every fiber of it interrupted, its listener
 * gone); a restart builds the topology again on the same disks, as a rebooted machine does.
 */
import { Context, Effect, ExecutionStrategy, Exit, Layer, Option, Scope } from "effect"
import { SimulatedTopology } from "../../topologies/simulated.ts"
import type { ReplicatorStatus } from "../domain/cluster.ts"
import { Admission, type AdmissionLimits, type AdmissionStats } from "../services/Admission.ts"
import { ChunkService } from "../services/ChunkService.ts"
import { MetadataReplicator } from "../services/MetadataReplicator.ts"
import { MetadataService, type MetadataServiceShape } from "../services/MetadataService.ts"
import { type DiskCrash, type DiskLatency, makeNodeDisks, type NodeDisks } from "./disk.ts"
import type { SimNetwork } from "./network.ts"
import type { PlantedBug } from "./plantedBugs.ts"
import { NodeClock, type SimulatedClock } from "./clock.ts"

export interface SimClusterOptions {
  /** Simulated time, which each node's clock follows (with its own skew). */
  readonly clock: SimulatedClock
  readonly nodes: number
  readonly seed: number
  readonly network: SimNetwork
  readonly chunkSize: number
  readonly replication: number
  /** How long each node's simulated fsyncs take. */
  readonly diskLatency: DiskLatency
  readonly orphanIntervalMillis: number
  readonly garbageIntervalMillis: number
  /** Applied entries between snapshots (each compacts the log). */
  readonly snapshotThreshold: number
  readonly snapshotCatchUpEntries: number
  readonly transactionTtlMillis: number
  readonly orphanGraceMillis: number
  readonly sessionTimeoutMillis: number
  readonly sessionPruneInterval: number
  /** How much work each node takes on at once before answering Busy. */
  readonly admission: AdmissionLimits
  /** Requests a node's log takes waiting at once before answering Busy. */
  readonly maxPendingRequests: number
  readonly plantedBug?: PlantedBug
}

interface Running {
  readonly scope: Scope.CloseableScope
  readonly context: Context.Context<MetadataReplicator | MetadataService | ChunkService | Admission>
}

/** The most work a node had in flight at once, over all its lives. */
export interface NodeLoad {
  readonly nodeId: string
  readonly peakRequests: number
  readonly peakBytes: number
  /** Requests it refused with Busy. */
  readonly refused: number
}

export interface SimNode {
  readonly id: string
  readonly address: string
  readonly disks: NodeDisks
  /** The node's own clock: its wall clock may be skewed or jump (the nemesis sets `skewMillis`). */
  readonly clock: NodeClock
}

export interface SimCluster {
  readonly nodes: ReadonlyArray<SimNode>
  readonly addresses: ReadonlyArray<string>
  readonly isUp: (id: string) => boolean
  /** Power loss on node `id`, then its process is gone. No-op when it is down. */
  readonly crash: (id: string, crash?: DiskCrash) => Effect.Effect<void>
  /** Boot node `id` again on its disks. No-op when it is up. Boot failures are recorded. */
  readonly restart: (id: string) => Effect.Effect<void>
  readonly status: (id: string) => Effect.Effect<Option.Option<ReplicatorStatus>>
  /** The metadata state machine of a running node, read directly. */
  readonly metadata: (id: string) => Option.Option<MetadataServiceShape>
  /** Nodes that failed to boot, with why (a violation: a node must always recover its disks). */
  readonly bootFailures: ReadonlyArray<string>
  /** Each node's peak of work in flight so far (admission's count), over all its lives. */
  readonly loads: Effect.Effect<ReadonlyArray<NodeLoad>>
}

export const nodeIdOf = (index: number) => `n${index + 1}`

/** A WAL write this long makes a simulated leader stop leading until it returns (production: 2 s). */
const WAL_STALL_MILLIS = 1000

export const makeSimCluster = (options: SimClusterOptions): Effect.Effect<SimCluster, never, Scope.Scope> =>
  Effect.gen(function*() {
    const clusterScope = yield* Effect.scope
    const ids = Array.from({ length: options.nodes }, (_, i) => nodeIdOf(i))
    const peers = ids.map((id) => ({ id, address: `${id}:7000` }))
    const nodes: Array<SimNode> = []
    for (const [index, peer] of peers.entries()) {
      nodes.push({
        ...peer,
        disks: yield* makeNodeDisks({ latency: options.diskLatency, seed: options.seed * 31 + index }),
        clock: new NodeClock(options.clock)
      })
    }
    const running = new Map<string, Running>()
    /** Peaks of node lives that ended. */
    const pastLoads = new Map<string, NodeLoad>()
    const combine = (id: string, stats: AdmissionStats | undefined): NodeLoad => {
      const past = pastLoads.get(id) ?? { nodeId: id, peakRequests: 0, peakBytes: 0, refused: 0 }
      return stats === undefined ? past : {
        nodeId: id,
        peakRequests: Math.max(past.peakRequests, stats.peakRequests),
        peakBytes: Math.max(past.peakBytes, stats.peakBytes),
        refused: past.refused + stats.refused
      }
    }
    const statsOf = (up: Running | undefined) =>
      up === undefined ? Effect.succeed(undefined) : Context.get(up.context, Admission).stats
    const bootFailures: Array<string> = []

    const layerOf = (node: SimNode) =>
      SimulatedTopology({
        nodeId: node.id,
        peers,
        network: options.network,
        disks: node.disks,
        chunkSize: options.chunkSize,
        replication: options.replication,
        raft: {
          seed: options.seed,
          snapshotThreshold: options.snapshotThreshold,
          // Little kept behind each compaction: runs are short, and followers caught up by a
          // snapshot (encoded, sent, installed) are what they must exercise.
          snapshotCatchUpEntries: options.snapshotCatchUpEntries,
          walStallMillis: WAL_STALL_MILLIS,
          maxPendingRequests: options.maxPendingRequests
        },
        admission: options.admission,
        orphanInterval: options.orphanIntervalMillis,
        garbageInterval: options.garbageIntervalMillis,
        transactionTtlMillis: options.transactionTtlMillis,
        orphanGraceMillis: options.orphanGraceMillis,
        sessionTimeoutMillis: options.sessionTimeoutMillis,
        sessionPruneInterval: options.sessionPruneInterval,
        ...(options.plantedBug === undefined ? {} : { plantedBug: options.plantedBug })
      })

    const boot = (node: SimNode) =>
      Effect.gen(function*() {
        if (running.has(node.id)) return
        const scope = yield* Scope.fork(clusterScope, ExecutionStrategy.sequential)
        // Everything the node runs (its fibers, its RPC handlers) reads the node's own clock.
        const built = yield* Layer.buildWithScope(layerOf(node), scope).pipe(Effect.withClock(node.clock), Effect.exit)
        if (Exit.isFailure(built)) {
          yield* Scope.close(scope, Exit.void)
          bootFailures.push(`${node.id}: ${String(built.cause)}`)
          return
        }
        running.set(node.id, { scope, context: built.value })
      })

    const nodeById = (id: string) =>
      Effect.suspend(() => {
        const node = nodes.find((n) => n.id === id)
        return node === undefined ? Effect.dieMessage(`no simulated node ${id}`) : Effect.succeed(node)
      })

    yield* Effect.forEach(nodes, boot, { discard: true })

    return {
      nodes,
      addresses: peers.map((p) => p.address),
      isUp: (id) => running.has(id),
      crash: (id, crash) =>
        Effect.gen(function*() {
          const up = running.get(id)
          if (up === undefined) return
          running.delete(id)
          pastLoads.set(id, combine(id, yield* statsOf(up)))
          yield* (yield* nodeById(id)).disks.crash(crash)
          yield* Scope.close(up.scope, Exit.void)
        }),
      restart: (id) => Effect.flatMap(nodeById(id), boot),
      status: (id) =>
        Effect.suspend(() => {
          const up = running.get(id)
          return up === undefined
            ? Effect.succeedNone
            : Effect.asSome(Context.get(up.context, MetadataReplicator).status)
        }),
      metadata: (id) => Option.map(Option.fromNullable(running.get(id)), (up) => Context.get(up.context, MetadataService)),
      bootFailures,
      loads: Effect.forEach(nodes, (node) => Effect.map(statsOf(running.get(node.id)), (stats) => combine(node.id, stats)))
    } satisfies SimCluster
  })
