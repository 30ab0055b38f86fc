/**
 * Static-list membership: the embedded default. The cluster is exactly the configured nodes,
 * all presumed alive (a node that is down shows up as failed requests, not as a view change).
 */
import { Effect, Layer, Stream } from "effect"
import type { NodeInfo } from "../../src/domain/cluster.ts"
import { InvalidArgument } from "../../src/domain/errors.ts"
import { ClusterService } from "../../src/services/ClusterService.ts"

export interface StaticMember {
  readonly id: string
  readonly address: string
}

export const StaticClusterService = (options: {
  readonly selfId: string
  readonly members: ReadonlyArray<StaticMember>
  /** what the nodes are, for display (default "standalone") */
  readonly role?: string
}) =>
  Layer.effect(ClusterService, Effect.suspend(() => {
    const members: ReadonlyArray<NodeInfo> = options.members.map((m) => ({
      id: m.id,
      address: m.address,
      role: options.role ?? "standalone",
      alive: true
    }))
    const self = members.find((m) => m.id === options.selfId)
    if (!self) {
      return Effect.fail(new InvalidArgument({ message: `node ${options.selfId} is not among the cluster's members` }))
    }
    return Effect.succeed(ClusterService.of({
      self,
      members: Effect.succeed(members),
      changes: Stream.concat(Stream.succeed(members), Stream.never)
    }))
  }))
