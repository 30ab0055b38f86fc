/**
 * The simulated topology: the hyperconverged wiring (topologies/hyperconverged.ts) for one node
 * of an in-process cluster, with only these swaps —
 * - network: the simulated Communicator (src/sim/network.ts) for clients, Raft and chunk
 *   transfers alike, so a partition cuts everything;
 * - disks: the node's simulated WAL, metadata and chunk disks (src/sim/disk.ts), which outlive
 *   its crashes;
 * - membership: the probed static list, probing over the simulated network;
 * - and, in tests only, one planted bug (src/sim/plantedBugs.ts) wrapping one service (or, for
 *   the clients' session ids, the workload's SDK: src/sim/run.ts).
 * Time is whatever Clock the caller runs it under (TestClock in a simulation).
 *
 * Unlike the hyperconverged layer it also outputs the node's services, so the simulation can ask
 * a node for its Raft status and read its state directly at the end of a run.
 */
import { Layer } from "effect"
import { SESSION_TIMEOUT_MILLIS } from "../src/domain/commands.ts"
import type { AdmissionLimits } from "../src/services/Admission.ts"
import { BoundedAdmission } from "../layers/admission/bounded.ts"
import { RpcChunkPeers, ChunkApiHandlers } from "../layers/chunks/rpcPeers.ts"
import { ProbingClusterService } from "../layers/membership/probing.ts"
import { ChunkCollector } from "../layers/orchestrators/chunkCollector.ts"
import { ReplicatedControlPlane } from "../layers/orchestrators/replicatedControlPlane.ts"
import { ReplicatedDataPlane } from "../layers/orchestrators/replicatedDataPlane.ts"
import { SortedPlacement } from "../layers/placement/sorted.ts"
import { RaftApiHandlers, RaftTransportRpc } from "../layers/raftTransport/rpc.ts"
import { RaftReplicator, type RaftReplicatorOptions } from "../layers/replicator/raft.ts"
import { StaticEndpointResolver } from "../layers/routing/static.ts"
import { RaftTransactionCoordinator } from "../layers/transaction/raftCoordinator.ts"
import { NodeServerLive } from "../src/server/server.ts"
import type { NodeDisks } from "../src/sim/disk.ts"
import type { SimNetwork } from "../src/sim/network.ts"
import * as Bugs from "../src/sim/plantedBugs.ts"
import type { Peer } from "./hyperconverged.ts"

export interface SimulatedNodeOptions {
  readonly nodeId: string
  /** Every node of the cluster, this one included: also the Raft voter set. */
  readonly peers: ReadonlyArray<Peer>
  readonly network: SimNetwork
  readonly disks: NodeDisks
  readonly chunkSize: number
  readonly replication: number
  readonly raft?: Omit<RaftReplicatorOptions, "nodeId" | "voters">
  /** How often the collector reconciles stored versions with the metadata (default 1 minute). */
  readonly orphanInterval?: number
  /** How often the collector deletes unreferenced versions (default 5 s). */
  readonly garbageInterval?: number
  /** The metadata's transaction TTL and the collector's orphan grace (production defaults otherwise). */
  readonly transactionTtlMillis?: number
  readonly orphanGraceMillis?: number
  /** Client sessions expire after this long unused, and expired ones are pruned this often (log indices). */
  readonly sessionTimeoutMillis?: number
  readonly sessionPruneInterval?: number
  readonly plantedBug?: Bugs.PlantedBug
  /** How much work a node takes on at once before answering Busy (production defaults otherwise). */
  readonly admission?: AdmissionLimits
}

export const SimulatedTopology = (options: SimulatedNodeOptions) => {
  const self = options.peers.find((p) => p.id === options.nodeId)
  const bug = options.plantedBug
  const network = options.network.communicator(options.nodeId)

  // 1. Who is in the cluster and who is alive; where each node listens; where chunks go.
  const membership = ProbingClusterService({ selfId: options.nodeId, members: options.peers }).pipe(Layer.provide(network))
  const routing = StaticEndpointResolver.pipe(Layer.provide(membership))
  const placement = SortedPlacement({ replication: options.replication }).pipe(Layer.provide(membership))

  // 2. This node's durable state, on its simulated disks.
  const storedMetadata = options.disks.metadata({
    chunkSize: options.chunkSize,
    ...(options.transactionTtlMillis === undefined ? {} : { transactionTtlMillis: options.transactionTtlMillis }),
    ...(options.sessionTimeoutMillis === undefined ? {} : { sessionTimeoutMillis: options.sessionTimeoutMillis }),
    ...(options.sessionPruneInterval === undefined ? {} : { sessionPruneInterval: options.sessionPruneInterval })
  })
  const metadata = bug === "applyTwiceAfterRestart"
    ? Bugs.applyTwiceAfterRestart(storedMetadata)
    : bug === "skipVersionCondition"
    ? Bugs.skipVersionCondition(storedMetadata)
    : bug === "skipSessionExpiry"
    ? Bugs.skipSessionExpiry(storedMetadata, options.sessionTimeoutMillis ?? SESSION_TIMEOUT_MILLIS)
    : storedMetadata
  const wal = bug === "ackBeforeFsync" ? Bugs.ackBeforeFsync(options.disks.wal.layer) : options.disks.wal.layer
  const chunks = options.disks.chunks
  const cluster = Layer.mergeAll(membership, routing, placement, network)

  // 3. The network between nodes: Raft messages and chunk transfers over the Communicator.
  const raftTransport = RaftTransportRpc().pipe(Layer.provide(cluster))
  const chunkPeers = RpcChunkPeers().pipe(Layer.provide(Layer.merge(chunks, cluster)))

  // 4. Consensus, as in the hyperconverged topology.
  const raft = RaftReplicator({
    batchWaitMillis: 0,
    ...options.raft,
    ...(bug === "unboundedQueues" ? { maxPendingRequests: Bugs.UNBOUNDED_PENDING } : {}),
    nodeId: options.nodeId,
    voters: options.peers.map((p) => p.id)
  })
  const replicator = (bug === "readWithoutReadIndex" ? Bugs.readWithoutReadIndex(raft) : raft).pipe(
    Layer.provide(Layer.mergeAll(wal, options.disks.snapshots.layer, raftTransport, cluster))
  )
  const state = Layer.mergeAll(replicator, chunkPeers, raftTransport, cluster).pipe(Layer.provideMerge(Layer.merge(metadata, chunks)))

  // 5. Coordination.
  const controlPlane = ReplicatedControlPlane({
    chunkSize: options.chunkSize,
    topologyName: "simulated",
    ...(options.sessionTimeoutMillis === undefined ? {} : { sessionTimeoutMillis: options.sessionTimeoutMillis })
  })
  const control = (bug === "dedupByAttempt" ? Bugs.dedupByAttemptControl(controlPlane) : controlPlane).pipe(
    Layer.provideMerge(state)
  )
  const coordinator = (bug === "dedupByAttempt" ? Bugs.dedupByAttemptCoordinator(RaftTransactionCoordinator) : RaftTransactionCoordinator)
    .pipe(Layer.provideMerge(control))
  const services = ReplicatedDataPlane().pipe(Layer.provideMerge(coordinator))

  // 6. The server and the collector.
  const admission = bug === "unboundedQueues" ? Bugs.unboundedAdmission : BoundedAdmission(options.admission)
  const server = NodeServerLive({ listen: self?.address ?? `${options.nodeId}:7000` }).pipe(
    Layer.provide(Layer.merge(ChunkApiHandlers, RaftApiHandlers)),
    Layer.provide(admission)
  )
  const collector = ChunkCollector({
    ...(options.garbageInterval === undefined ? {} : { interval: options.garbageInterval }),
    ...(options.orphanInterval === undefined ? {} : { orphanInterval: options.orphanInterval }),
    ...(options.orphanGraceMillis === undefined ? {} : { orphanGraceMillis: options.orphanGraceMillis })
  })
  return Layer.mergeAll(server, collector).pipe(Layer.provideMerge(services), Layer.provideMerge(admission))
}
