/**
 * Sorted placement over live nodes: live nodes sorted by id, starting at a position derived
 * from (inode, chunk index) so chunks spread over every node, not just the lowest ids. A chunk
 * goes to min(replication, live nodes) targets; with no live node the answer is Unavailable.
 */
import { Effect, Layer } from "effect"
import { Unavailable } from "../../src/domain/errors.ts"
import { ClusterService } from "../../src/services/ClusterService.ts"
import { PlacementStrategy } from "../../src/services/PlacementStrategy.ts"

/** A small integer hash (FNV-1a over the two numbers' decimal text): stable across nodes and runs. */
const spread = (inode: number, index: number): number => {
  let h = 0x811c9dc5
  for (const ch of `${inode}:${index}`) h = Math.imul(h ^ ch.charCodeAt(0), 0x01000193) >>> 0
  return h
}

export const SortedPlacement = (options: { readonly replication: number }) =>
  Layer.effect(
    PlacementStrategy,
    Effect.map(ClusterService, (cluster) =>
      PlacementStrategy.of({
        replication: options.replication,
        place: (inode, index) =>
          Effect.flatMap(cluster.members, (members) => {
            const live = members.filter((m) => m.alive).slice().sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
            if (live.length === 0) return Effect.fail(new Unavailable({ message: "no live node to place a chunk on" }))
            const count = Math.min(options.replication, live.length)
            const start = spread(inode, index) % live.length
            return Effect.succeed(Array.from({ length: count }, (_, i) => live[(start + i) % live.length]!))
          })
      }))
  )
