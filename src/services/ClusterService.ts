/**
 * ClusterService: who is in the cluster and who is alive. `self` is this node; `members` is the
 * current view (configured nodes with liveness); `changes` emits each new view. The Raft voter
 * set is NOT taken from here: it is the cluster's own configuration, so membership flapping
 * never changes the quorum.
 */
import { Context, type Effect, type Stream } from "effect"
import type { NodeInfo } from "../domain/cluster.ts"

export interface ClusterServiceShape {
  readonly self: NodeInfo
  readonly members: Effect.Effect<ReadonlyArray<NodeInfo>>
  readonly changes: Stream.Stream<ReadonlyArray<NodeInfo>>
}

export class ClusterService extends Context.Tag("sandstore/ClusterService")<ClusterService, ClusterServiceShape>() {}
