/**
 * ChunkPeers: the ChunkService of any node, this one or a remote one. The data plane and the
 * transaction coordinator stage, read and finalize chunk versions through it without knowing
 * whether the target is local (a function call) or remote (an RPC).
 */
import { Context, type Effect } from "effect"
import type { NodeInfo } from "../domain/cluster.ts"
import type { Unavailable } from "../domain/errors.ts"
import type { ChunkServiceShape } from "./ChunkService.ts"

export interface ChunkPeersShape {
  readonly forNode: (node: NodeInfo | string) => Effect.Effect<ChunkServiceShape, Unavailable>
}

export class ChunkPeers extends Context.Tag("sandstore/ChunkPeers")<ChunkPeers, ChunkPeersShape>() {}
