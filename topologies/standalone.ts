/**
 * Standalone topology: one node that is its own control plane and data plane. Metadata is a
 * classic-level state machine behind a single-node replicator that writes every command to the
 * WAL (fsync, group commit) before applying it; chunks live on local disk. Read the layers
 * bottom-up: storage, then consensus, then coordination, then the server.
 */
import { Layer } from "effect"
import { join } from "node:path"
import { DEFAULT_CHUNK_SIZE } from "../src/domain/fs.ts"
import type { AdmissionLimits } from "../src/services/Admission.ts"
import { ServerLive } from "../src/server/server.ts"
import { BoundedAdmission } from "../layers/admission/bounded.ts"
import { ChunkServiceLocalDisk } from "../layers/chunks/localDisk.ts"
import { LocalChunkPeers } from "../layers/chunks/localPeers.ts"
import { StaticClusterService } from "../layers/membership/static.ts"
import { MetadataServiceClassicLevel } from "../layers/metadata/classicLevel.ts"
import { ChunkCollector } from "../layers/orchestrators/chunkCollector.ts"
import { ReplicatedControlPlane } from "../layers/orchestrators/replicatedControlPlane.ts"
import { ReplicatedDataPlane } from "../layers/orchestrators/replicatedDataPlane.ts"
import { SortedPlacement } from "../layers/placement/sorted.ts"
import { SingleNodeReplicator } from "../layers/replicator/singleNode.ts"
import { StaticEndpointResolver } from "../layers/routing/static.ts"
import { RaftTransactionCoordinator } from "../layers/transaction/raftCoordinator.ts"
import { TcpCommunicator } from "../layers/transport/tcp.ts"
import { WriteAheadLogFile } from "../layers/wal/segmentedFile.ts"

export interface StandaloneOptions {
  readonly nodeId: string
  /** host:port to serve clients on (port 0 picks a free port) */
  readonly listen: string
  readonly dataDir: string
  readonly chunkSize?: number
  /** WAL entries between metadata snapshots (the log is compacted behind each) */
  readonly snapshotThreshold?: number
  /** How much work the node takes on at once before answering Busy (defaults: DEFAULT_ADMISSION_LIMITS). */
  readonly admission?: AdmissionLimits
}

/** Every service of a standalone node except the server: storage, consensus, coordination. */
export const StandaloneServices = (options: Omit<StandaloneOptions, "listen"> & { readonly listen?: string }) => {
  const chunkSize = options.chunkSize ?? DEFAULT_CHUNK_SIZE

  // Who is in the cluster: just this node.
  const membership = StaticClusterService({ selfId: options.nodeId, members: [{ id: options.nodeId, address: options.listen ?? "127.0.0.1:0" }] })
  const routing = StaticEndpointResolver.pipe(Layer.provide(membership))
  const placement = SortedPlacement({ replication: 1 }).pipe(Layer.provide(membership))

  // Durable state: metadata store, its write-ahead log, chunk store.
  const metadata = MetadataServiceClassicLevel({ path: join(options.dataDir, "metadata"), chunkSize })
  const wal = WriteAheadLogFile({ dir: join(options.dataDir, "wal") })
  const chunks = ChunkServiceLocalDisk({ dir: join(options.dataDir, "chunks") })

  // Consensus: a one-node replicator (WAL append + fsync, then apply). No batch wait: with one
  // node, waiting only adds latency; proposals that arrive during an fsync still share the next.
  const replicator = SingleNodeReplicator({
    nodeId: options.nodeId,
    batchWaitMillis: 0,
    ...(options.snapshotThreshold === undefined ? {} : { snapshotThreshold: options.snapshotThreshold })
  }).pipe(Layer.provide(wal))

  // Coordination: control plane (metadata), data plane (bytes), 2PC coordinator.
  const storage = Layer.mergeAll(metadata, chunks, membership, routing, placement)
  const consensus = replicator.pipe(Layer.provideMerge(storage))
  const chunkPeers = LocalChunkPeers.pipe(Layer.provideMerge(consensus))
  const control = ReplicatedControlPlane({ chunkSize, topologyName: "standalone" }).pipe(Layer.provideMerge(chunkPeers))
  const coordinator = RaftTransactionCoordinator.pipe(Layer.provideMerge(control))
  return ReplicatedDataPlane().pipe(Layer.provideMerge(coordinator))
}

/** A standalone node: the services above, served to clients over TCP. */
export const StandaloneTopology = (options: StandaloneOptions) =>
  // The server depends on the orchestrators only; the collector deletes unreferenced chunk versions.
  Layer.mergeAll(ServerLive({ listen: options.listen }).pipe(Layer.provide(BoundedAdmission(options.admission))), ChunkCollector()).pipe(
    Layer.provide(StandaloneServices(options)),
    Layer.provide(TcpCommunicator)
  )
