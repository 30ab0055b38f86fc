/** Static endpoint resolver: node id to address from the membership view. */
import { Effect, Layer } from "effect"
import { NotFound } from "../../src/domain/errors.ts"
import { ClusterService } from "../../src/services/ClusterService.ts"
import { EndpointResolver } from "../../src/services/EndpointResolver.ts"

export const StaticEndpointResolver = Layer.effect(
  EndpointResolver,
  Effect.map(ClusterService, (cluster) =>
    EndpointResolver.of({
      resolve: (nodeId) =>
        Effect.flatMap(cluster.members, (members) => {
          const node = members.find((m) => m.id === nodeId)
          return node
            ? Effect.succeed(node.address)
            : Effect.fail(new NotFound({ message: `no node with id ${nodeId}` }))
        })
    }))
)
