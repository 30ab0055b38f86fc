/** Cluster data: nodes, their roles and liveness, and the replicator's view of itself. */
import { Schema } from "effect"

export const NodeId = Schema.String.pipe(Schema.pattern(/^[A-Za-z0-9_-]{1,64}$/))
export type NodeId = typeof NodeId.Type

export const NodeInfo = Schema.Struct({
  id: NodeId,
  /** host:port the node's RPC server listens on */
  address: Schema.String,
  role: Schema.String,
  alive: Schema.Boolean
})
export type NodeInfo = typeof NodeInfo.Type

export const RaftRole = Schema.Literal("leader", "follower", "candidate", "precandidate", "standalone")
export type RaftRole = typeof RaftRole.Type

export const ReplicatorStatus = Schema.Struct({
  nodeId: NodeId,
  role: RaftRole,
  term: Schema.Int,
  leaderId: Schema.NullOr(Schema.String),
  commitIndex: Schema.Int,
  appliedIndex: Schema.Int,
  lastIndex: Schema.Int,
  /** The log is compacted up to here: the index of the latest snapshot taken or installed. */
  snapshotIndex: Schema.Int
})
export type ReplicatorStatus = typeof ReplicatorStatus.Type

export const NodeStatus = Schema.Struct({
  node: NodeInfo,
  replicator: ReplicatorStatus,
  leaderAddress: Schema.NullOr(Schema.String)
})
export type NodeStatus = typeof NodeStatus.Type

export const Topology = Schema.Struct({
  name: Schema.String,
  self: NodeStatus,
  members: Schema.Array(NodeInfo)
})
export type Topology = typeof Topology.Type
