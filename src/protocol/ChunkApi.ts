/**
 * The chunk API between nodes: the data plane and the transaction coordinator of one node
 * stage, finalize, read and delete chunk versions on another. Each rpc is one ChunkService
 * call; errors arrive typed (Corruption stays Corruption, so a reader fails over).
 */
import { Rpc, RpcGroup } from "@effect/rpc"
import { Schema } from "effect"
import { checkedOnDecode } from "../lib/checkedOnDecode.ts"
import { payload } from "./payload.ts"
import { Busy, Corruption, InvalidArgument, IoError, NotFound } from "../domain/errors.ts"

/** What a ChunkService operation fails with (or Busy: the node is at its limit); unreachability is the caller's side. */
const ChunkError = Schema.Union(NotFound, InvalidArgument, Corruption, IoError, Busy)

const VersionId = Schema.String
const Count = Schema.Int.pipe(Schema.nonNegative())

export class StageChunk extends Rpc.make("StageChunk", {
  payload: payload({ versionId: VersionId, data: Schema.Uint8ArrayFromSelf, checksum: Schema.Int }),
  error: ChunkError
}) {}
/** Stage a version as an overwrite of one the node holds (ChunkService.stagePatch); answers the new version's checksum. */
export class StagePatch extends Rpc.make("StagePatch", {
  payload: payload({
    versionId: VersionId,
    base: VersionId,
    baseChecksum: Schema.Int,
    offset: Count,
    data: Schema.Uint8ArrayFromSelf,
    checksum: Schema.Int
  }),
  success: Schema.Int,
  error: ChunkError
}) {}
/** Replace a damaged replica's bytes with good ones (ChunkService.repair). */
export class RepairChunk extends Rpc.make("RepairChunk", {
  payload: payload({ versionId: VersionId, data: Schema.Uint8ArrayFromSelf, checksum: Schema.Int }),
  error: ChunkError
}) {}
export class CommitChunks extends Rpc.make("CommitChunks", { payload: payload({ versionIds: Schema.Array(VersionId) }), error: ChunkError }) {}
export class AbortChunk extends Rpc.make("AbortChunk", { payload: payload({ versionId: VersionId }), error: ChunkError }) {}
export class RemoveChunks extends Rpc.make("RemoveChunks", { payload: payload({ versionIds: Schema.Array(VersionId) }), error: ChunkError }) {}
export class ReadChunk extends Rpc.make("ReadChunk", {
  payload: payload({ versionId: VersionId, offset: Count, length: Count }),
  success: Schema.Uint8ArrayFromSelf,
  error: ChunkError
}) {}
export class ListChunks extends Rpc.make("ListChunks", {
  success: checkedOnDecode(Schema.Struct({ staged: Schema.Array(Schema.String), committed: Schema.Array(Schema.String) })),
  error: ChunkError
}) {}

/** Liveness probe: answers at once; used by membership's failure detector. */
export class Ping extends Rpc.make("Ping", { success: Schema.Struct({ nodeId: Schema.String }) }) {}

export class ChunkApi extends RpcGroup.make(StageChunk, StagePatch, RepairChunk, CommitChunks, AbortChunk, RemoveChunks, ReadChunk, ListChunks, Ping) {}
