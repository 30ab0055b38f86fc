/**
 * The client API: what any node answers for clients (SDK, CLI). Every request carries only
 * schema-checked fields, so bad input is rejected at decode with nothing changed. A mutation
 * carries its place in the client's session (`request`: session id, sequence number, and what
 * the client already has answers for), so the state machine applies it at most once however
 * often it is resent; without one it is applied as often as it arrives. Every request may say
 * how long the client will wait (`timeoutMillis`): the node stops working on it after that and
 * answers Timeout. Errors arrive as the same tagged classes the node raised.
 */
import { Rpc, RpcGroup } from "@effect/rpc"
import { Schema } from "effect"
import { payload } from "./payload.ts"
import { Topology } from "../domain/cluster.ts"
import { SandstoreError } from "../domain/errors.ts"
import { SessionId } from "../domain/session.ts"
import * as Fs from "../domain/fs.ts"
import { AttributeChanges, DirectoryRef, InodeId } from "../domain/fs.ts"
import { checkedOnDecode } from "../lib/checkedOnDecode.ts"

// Replies are checked by the client that decodes them, not again by the node that encodes them.
const Attributes = checkedOnDecode(Fs.Attributes)
const ReaddirPage = checkedOnDecode(Fs.ReaddirPage)
const ReaddirPlusPage = checkedOnDecode(Fs.ReaddirPlusPage)
const FsStat = checkedOnDecode(Fs.FsStat)
const FsInfo = checkedOnDecode(Fs.FsInfo)

/** Largest payload of one Read or Write call; the SDK splits larger transfers. */
export const MAX_TRANSFER_BYTES = 16 * 1024 * 1024
/** Largest page of one Readdir call. */
export const MAX_READDIR_ENTRIES = 10_000

const Name = Schema.String
/** A mutation's place in its client's session (the node adds a digest of the request itself). */
export const SessionRequest = Schema.Struct({
  session: SessionId,
  seq: Schema.Int.pipe(Schema.positive()),
  ackedBelow: Schema.NonNegativeInt
})
export type SessionRequest = typeof SessionRequest.Type
const Request = Schema.NullOr(SessionRequest)
/** The longest a client may ask a node to work on one request. */
export const MAX_TIMEOUT_MILLIS = 10 * 60_000
const TimeoutMillis = Schema.optional(Schema.Int.pipe(Schema.between(1, MAX_TIMEOUT_MILLIS)))
const Cookie = Schema.NullOr(Schema.String)
const PageSize = Schema.Int.pipe(Schema.between(1, MAX_READDIR_ENTRIES))
const Offset = Schema.Int.pipe(Schema.nonNegative())
const Mode = Schema.Int.pipe(Schema.between(0, 0o7777))
const Id = Schema.Int.pipe(Schema.nonNegative())

export class GetAttr extends Rpc.make("GetAttr", {
  payload: payload({ inode: InodeId, timeoutMillis: TimeoutMillis }), success: Attributes, error: SandstoreError
}) {}
export class Lookup extends Rpc.make("Lookup", {
  payload: payload({ parent: InodeId, name: Name, timeoutMillis: TimeoutMillis }), success: Attributes, error: SandstoreError
}) {}
export class LookupPath extends Rpc.make("LookupPath", {
  payload: payload({ path: Schema.String, timeoutMillis: TimeoutMillis }), success: Attributes, error: SandstoreError
}) {}
export class Access extends Rpc.make("Access", {
  payload: payload({ inode: InodeId, uid: Id, gid: Id, mask: Schema.Int.pipe(Schema.between(0, 7)), timeoutMillis: TimeoutMillis }),
  error: SandstoreError
}) {}
export class Readdir extends Rpc.make("Readdir", {
  payload: payload({ inode: InodeId, cookie: Cookie, max: PageSize, timeoutMillis: TimeoutMillis }), success: ReaddirPage, error: SandstoreError
}) {}
export class ReaddirPlus extends Rpc.make("ReaddirPlus", {
  payload: payload({ inode: InodeId, cookie: Cookie, max: PageSize, timeoutMillis: TimeoutMillis }), success: ReaddirPlusPage, error: SandstoreError
}) {}
export class FsStatRpc extends Rpc.make("FsStat", { payload: payload({ timeoutMillis: TimeoutMillis }), success: FsStat, error: SandstoreError }) {}
export class FsInfoRpc extends Rpc.make("FsInfo", { payload: payload({ timeoutMillis: TimeoutMillis }), success: FsInfo, error: SandstoreError }) {}
export class TopologyRpc extends Rpc.make("Topology", { payload: payload({ timeoutMillis: TimeoutMillis }), success: checkedOnDecode(Topology), error: SandstoreError }) {}

/**
 * Open session `session` (a new random id) with `create`; keep it alive without. Its mutations
 * then apply at most once. A session that is not open (expired, closed) is SessionExpired.
 */
export class OpenSession extends Rpc.make("OpenSession", {
  payload: payload({ session: SessionId, create: Schema.Boolean, timeoutMillis: TimeoutMillis }),
  error: SandstoreError
}) {}
/** The client is done with `session`: the node forgets its recorded outcomes. */
export class CloseSession extends Rpc.make("CloseSession", {
  payload: payload({ session: SessionId, timeoutMillis: TimeoutMillis }),
  error: SandstoreError
}) {}

export class Create extends Rpc.make("Create", {
  payload: payload({
    parent: DirectoryRef, name: Name, mode: Mode, uid: Id, gid: Id, exclusive: Schema.Boolean, request: Request,
    timeoutMillis: TimeoutMillis
  }),
  success: Attributes,
  error: SandstoreError
}) {}
export class Mkdir extends Rpc.make("Mkdir", {
  payload: payload({ parent: DirectoryRef, name: Name, mode: Mode, uid: Id, gid: Id, request: Request, timeoutMillis: TimeoutMillis }),
  success: Attributes,
  error: SandstoreError
}) {}
export class Unlink extends Rpc.make("Unlink", {
  payload: payload({ parent: DirectoryRef, name: Name, request: Request, timeoutMillis: TimeoutMillis }), error: SandstoreError
}) {}
export class Rmdir extends Rpc.make("Rmdir", {
  payload: payload({ parent: DirectoryRef, name: Name, request: Request, timeoutMillis: TimeoutMillis }), error: SandstoreError
}) {}
export class Rename extends Rpc.make("Rename", {
  payload: payload({ srcParent: DirectoryRef, srcName: Name, dstParent: DirectoryRef, dstName: Name, request: Request, timeoutMillis: TimeoutMillis }),
  error: SandstoreError
}) {}
export class SetAttr extends Rpc.make("SetAttr", {
  payload: payload({ inode: InodeId, changes: AttributeChanges, request: Request, timeoutMillis: TimeoutMillis }),
  success: Attributes,
  error: SandstoreError
}) {}
export class Read extends Rpc.make("Read", {
  payload: payload({ inode: InodeId, offset: Offset, length: Schema.Int.pipe(Schema.between(0, MAX_TRANSFER_BYTES)), timeoutMillis: TimeoutMillis }),
  success: Schema.Uint8ArrayFromSelf,
  error: SandstoreError
}) {}
/**
 * Where the bytes of a range are: the file's attributes and the chunk versions overlapping
 * [offset, offset + length), each with the nodes holding it, as of a linearizable read. The
 * client then fetches each version's bytes with ReadVersion from any of those nodes.
 */
export class PlanRead extends Rpc.make("PlanRead", {
  payload: payload({ inode: InodeId, offset: Offset, length: Schema.Int.pipe(Schema.between(0, MAX_TRANSFER_BYTES)), timeoutMillis: TimeoutMillis }),
  success: checkedOnDecode(Schema.Struct({ attributes: Fs.Attributes, chunkSize: Schema.Int, chunks: Schema.Array(Fs.ChunkRef) })),
  error: SandstoreError
}) {}
/**
 * `length` bytes at `offset` of chunk version `versionId`, as this node stores it (checked against
 * its checksums): no metadata is read, so any node holding the version answers. NotFound when it
 * holds none (it was never here, or it was replaced and collected).
 */
export class ReadVersion extends Rpc.make("ReadVersion", {
  payload: payload({
    versionId: Schema.String,
    offset: Offset,
    length: Schema.Int.pipe(Schema.between(0, MAX_TRANSFER_BYTES)),
    timeoutMillis: TimeoutMillis
  }),
  success: Schema.Uint8ArrayFromSelf,
  error: SandstoreError
}) {}
/**
 * A read of the file at `path` with its attributes: the lookup and the read in one request and
 * one linearizable read (readFile of a small file is one round trip). Larger files continue
 * with Read by inode, as a handle would.
 */
export class ReadPath extends Rpc.make("ReadPath", {
  payload: payload({ path: Schema.String, offset: Offset, length: Schema.Int.pipe(Schema.between(0, MAX_TRANSFER_BYTES)), timeoutMillis: TimeoutMillis }),
  success: Schema.Struct({ attributes: Attributes, data: Schema.Uint8ArrayFromSelf }),
  error: SandstoreError
}) {}
export class Write extends Rpc.make("Write", {
  payload: payload({
    inode: InodeId,
    offset: Offset,
    data: Schema.Uint8ArrayFromSelf.pipe(Schema.filter((d) => d.length <= MAX_TRANSFER_BYTES || "write too large")),
    /**
     * crc32c of `data` as the client computed it: every replica checks the bytes it stores
     * against it, so damage anywhere on the way is caught. Without it the node computes one.
     */
    checksum: Schema.optional(Schema.Int),
    request: Request,
    /** O_APPEND: ignore `offset` and write at the file's end as of the commit */
    append: Schema.Boolean,
    timeoutMillis: TimeoutMillis
  }),
  success: Attributes,
  error: SandstoreError
}) {}

export class ClientApi extends RpcGroup.make(
  GetAttr, Lookup, LookupPath, Access, Readdir, ReaddirPlus, FsStatRpc, FsInfoRpc, TopologyRpc, OpenSession, CloseSession,
  Create, Mkdir, Unlink, Rmdir, Rename, SetAttr, Read, ReadPath, PlanRead, ReadVersion, Write
) {}
