/**
 * PlacementStrategy: which nodes store a new chunk. Only live nodes are chosen; when fewer
 * than the required minimum are alive the answer is `Unavailable`, never a dead target.
 */
import { Context, type Effect } from "effect"
import type { NodeInfo } from "../domain/cluster.ts"
import type { Unavailable } from "../domain/errors.ts"

export interface PlacementStrategyShape {
  /** Targets for the chunk at `index` of `inode`, at most the replication factor. */
  readonly place: (inode: number, index: number) => Effect.Effect<ReadonlyArray<NodeInfo>, Unavailable>
  readonly replication: number
}

export class PlacementStrategy extends Context.Tag("sandstore/PlacementStrategy")<PlacementStrategy, PlacementStrategyShape>() {}
