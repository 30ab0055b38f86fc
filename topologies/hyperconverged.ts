/**
 * The hyperconverged topology — the canonical wiring; read this file first.
 *
 * Every node runs both planes, as in the original system (and CockroachDB): metadata is a
 * classic-level state machine replicated by Raft across all nodes; chunks live on local disk
 * and are replicated by the data plane to placement targets; writes commit by two-phase commit
 * with the Raft log as the coordinator's record. Membership (who is alive, for placement) is a
 * probed static list or etcd; the Raft voter set is the configured `peers`, never a live view.
 *
 * Read it bottom-up: who is in the cluster, the node's durable state, the network, consensus,
 * coordination, and finally the server. Swap any line for another Layer of the same Tag.
 */
import { Layer } from "effect"
import { join } from "node:path"
import { DEFAULT_CHUNK_SIZE } from "../src/domain/fs.ts"
import type { AdmissionLimits } from "../src/services/Admission.ts"
import { NodeServerLive } from "../src/server/server.ts"
import { BoundedAdmission } from "../layers/admission/bounded.ts"
import { ChunkServiceLocalDisk } from "../layers/chunks/localDisk.ts"
import { ChunkApiHandlers, RpcChunkPeers } from "../layers/chunks/rpcPeers.ts"
import { EtcdClusterService } from "../layers/membership/etcd.ts"
import { ProbingClusterService } from "../layers/membership/probing.ts"
import { MetadataServiceClassicLevel } from "../layers/metadata/classicLevel.ts"
import { ChunkCollector, type ChunkCollectorOptions } from "../layers/orchestrators/chunkCollector.ts"
import { ChunkRereplicator, type ChunkRereplicatorOptions } from "../layers/orchestrators/chunkRereplicator.ts"
import { ChunkScrubber, type ChunkScrubberOptions } from "../layers/orchestrators/chunkScrubber.ts"
import { ReplicatedControlPlane } from "../layers/orchestrators/replicatedControlPlane.ts"
import { ReplicatedDataPlane } from "../layers/orchestrators/replicatedDataPlane.ts"
import { SortedPlacement } from "../layers/placement/sorted.ts"
import { RaftApiHandlers, RaftTransportRpc } from "../layers/raftTransport/rpc.ts"
import { RaftReplicator, type RaftReplicatorOptions, REBUILD_MARKER } from "../layers/replicator/raft.ts"
import { StaticEndpointResolver } from "../layers/routing/static.ts"
import { RaftTransactionCoordinator } from "../layers/transaction/raftCoordinator.ts"
import { TcpCommunicator } from "../layers/transport/tcp.ts"
import { WriteAheadLogFile } from "../layers/wal/segmentedFile.ts"
import { SnapshotStoreFiles } from "../layers/snapshots/files.ts"

export interface Peer {
  readonly id: string
  /** host:port this node's server listens on (clients and peers alike) */
  readonly address: string
}

export interface HyperconvergedOptions {
  readonly nodeId: string
  readonly listen: string
  readonly dataDir: string
  /** Every node of the cluster, this one included: also the Raft voter set. */
  readonly peers: ReadonlyArray<Peer>
  /** etcd endpoints (host:port) for membership; absent: the probed static list. */
  readonly etcd?: ReadonlyArray<string>
  readonly chunkSize?: number
  /** Copies of each chunk (default 3, at most the live nodes). */
  readonly replication?: number
  /** Raft timings and batching (defaults: 50 ms ticks, batch of 64 with a 10 ms wait, snapshot every 1000 entries). */
  readonly raft?: Omit<RaftReplicatorOptions, "nodeId" | "voters">
  /** How much work the node takes on at once before answering Busy (defaults: DEFAULT_ADMISSION_LIMITS). */
  readonly admission?: AdmissionLimits
  /** How fast and how often every node verifies its own replicas. */
  readonly scrubber?: ChunkScrubberOptions
  /** When the leader copies a gone node's chunks elsewhere. */
  readonly rereplication?: ChunkRereplicatorOptions
  /** How often the leader deletes unreferenced and surplus chunk versions. */
  readonly collector?: ChunkCollectorOptions
}

export const HyperconvergedTopology = (options: HyperconvergedOptions) => {
  const chunkSize = options.chunkSize ?? DEFAULT_CHUNK_SIZE
  const self = options.peers.find((p) => p.id === options.nodeId)
  const network = TcpCommunicator

  // 1. Who is in the cluster and who is alive; where each node listens; where chunks go.
  const membership = (options.etcd === undefined
    ? ProbingClusterService({ selfId: options.nodeId, members: options.peers })
    : EtcdClusterService({
      self: { id: options.nodeId, address: self?.address ?? options.listen, role: "hyperconverged" },
      members: options.peers,
      endpoints: options.etcd
    })).pipe(Layer.provide(network))
  const routing = StaticEndpointResolver.pipe(Layer.provide(membership))
  const placement = SortedPlacement({ replication: options.replication ?? 3 }).pipe(Layer.provide(membership))

  // 2. This node's durable state: the metadata store, its Raft log, the chunk store.
  const metadata = MetadataServiceClassicLevel({ path: join(options.dataDir, "metadata"), chunkSize })
  const wal = WriteAheadLogFile({ dir: join(options.dataDir, "wal") })
  const snapshots = SnapshotStoreFiles({ dir: join(options.dataDir, "snapshots") })
  const chunks = ChunkServiceLocalDisk({ dir: join(options.dataDir, "chunks") })
  const cluster = Layer.mergeAll(membership, routing, placement, network)

  // 3. The network between nodes: Raft messages and chunk transfers over the Communicator.
  const raftTransport = RaftTransportRpc().pipe(Layer.provide(cluster))
  const chunkPeers = RpcChunkPeers().pipe(Layer.provide(Layer.merge(chunks, cluster)))

  // 4. Consensus: Raft over the configured voters, persisting to the WAL, applying to the metadata.
  // No batch wait: proposals that arrive during an fsync already share the next one; waiting
  // 10 ms for more cut one client's throughput from ~390 to ~74 commits/s (npm run bench:raft).
  const replicator = RaftReplicator({
    batchWaitMillis: 0,
    ...options.raft,
    rebuildMarker: join(options.dataDir, REBUILD_MARKER),
    nodeId: options.nodeId,
    voters: options.peers.map((p) => p.id)
  }).pipe(Layer.provide(Layer.mergeAll(wal, snapshots, raftTransport, cluster)))
  const state = Layer.mergeAll(replicator, chunkPeers, raftTransport, cluster).pipe(Layer.provideMerge(Layer.merge(metadata, chunks)))

  // 5. Coordination: control plane (metadata, placement), 2PC coordinator, data plane (bytes).
  const control = ReplicatedControlPlane({ chunkSize, topologyName: "hyperconverged" }).pipe(Layer.provideMerge(state))
  const coordinator = RaftTransactionCoordinator.pipe(Layer.provideMerge(control))
  const services = ReplicatedDataPlane().pipe(Layer.provideMerge(coordinator))

  // 6. The server: the client API on the orchestrators, plus the node-to-node APIs, all behind
  //    one admission control; the collector that keeps chunk storage in step with the metadata;
  //    the scrubber that finds and repairs this node's damaged replicas; the re-replicator that
  //    copies a gone node's chunks to the others.
  const server = NodeServerLive({ listen: options.listen }).pipe(
    Layer.provide(Layer.merge(ChunkApiHandlers, RaftApiHandlers)),
    Layer.provide(BoundedAdmission(options.admission))
  )
  const background = Layer.mergeAll(ChunkCollector(options.collector), ChunkScrubber(options.scrubber), ChunkRereplicator(options.rereplication))
  return Layer.mergeAll(server, background).pipe(Layer.provide(services))
}
