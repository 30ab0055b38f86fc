/**
 * ChunkPeers: the ChunkService of any node, this one or a remote one. The data plane and the
 * transaction coordinator stage, read and finalize chunk versions through it without knowing
 * whether the target is local (a function call) or remote (an RPC). A remote store can also
 * fail with `Unavailable` (unreachable) or `Timeout`.
 */
import { Context, type Effect } from "effect"
import type { NodeInfo } from "../domain/cluster.ts"
import type { Busy, Corruption, InvalidArgument, IoError, NotFound, Timeout, Unavailable } from "../domain/errors.ts"
import type { ChunkPatch, StoredVersions } from "./ChunkService.ts"

/** Everything a chunk operation on some node can fail with. */
export type PeerChunkError = NotFound | InvalidArgument | Corruption | IoError | Unavailable | Busy | Timeout

/** A ChunkService reached through the network (ChunkService's operations; see there). */
export interface PeerChunkStore {
  readonly stage: (versionId: string, data: Uint8Array, checksum: number) => Effect.Effect<void, PeerChunkError>
  readonly stagePatch: (versionId: string, patch: ChunkPatch) => Effect.Effect<number, PeerChunkError>
  readonly repair: (versionId: string, data: Uint8Array, checksum: number) => Effect.Effect<void, PeerChunkError>
  readonly commit: (versionIds: ReadonlyArray<string>) => Effect.Effect<void, PeerChunkError>
  readonly abort: (versionId: string) => Effect.Effect<void, PeerChunkError>
  readonly read: (versionId: string, offset: number, length: number) => Effect.Effect<Uint8Array, PeerChunkError>
  readonly remove: (versionIds: ReadonlyArray<string>) => Effect.Effect<void, PeerChunkError>
  readonly list: Effect.Effect<StoredVersions, PeerChunkError>
}

export interface ChunkPeersShape {
  readonly forNode: (node: NodeInfo | string) => Effect.Effect<PeerChunkStore, Unavailable>
  /** This node's id: a local replica is read before remote ones. */
  readonly selfId: string
}

export class ChunkPeers extends Context.Tag("sandstore/ChunkPeers")<ChunkPeers, ChunkPeersShape>() {}
