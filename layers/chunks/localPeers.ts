/** ChunkPeers for a single-node topology: every target is this node's own ChunkService. */
import { Effect, Layer } from "effect"
import { Unavailable } from "../../src/domain/errors.ts"
import { ChunkPeers } from "../../src/services/ChunkPeers.ts"
import { ChunkService } from "../../src/services/ChunkService.ts"
import { ClusterService } from "../../src/services/ClusterService.ts"

export const LocalChunkPeers = Layer.effect(
  ChunkPeers,
  Effect.gen(function*() {
    const chunks = yield* ChunkService
    const cluster = yield* ClusterService
    return ChunkPeers.of({
      selfId: cluster.self.id,
      forNode: (node) => {
        const id = typeof node === "string" ? node : node.id
        return id === cluster.self.id
          ? Effect.succeed(chunks)
          : Effect.fail(new Unavailable({ message: `node ${id} is not reachable in a single-node topology` }))
      }
    })
  })
)
