/**
 * The client API: what any node answers for clients (SDK, CLI). Every request carries only
 * schema-checked fields, so bad input is rejected at decode with nothing changed. Mutations
 * carry an optional `requestId` ("<client>:<seq>") that the state machine deduplicates, so a
 * retry never applies twice. Errors arrive as the same tagged classes the node raised.
 */
import { Rpc, RpcGroup } from "@effect/rpc"
import { Schema } from "effect"
import { Topology } from "../domain/cluster.ts"
import { SandstoreError } from "../domain/errors.ts"
import {
  AttributeChanges, Attributes, FsInfo, FsStat, InodeId, ReaddirPage, ReaddirPlusPage
} from "../domain/fs.ts"

/** Largest payload of one Read or Write call; the SDK splits larger transfers. */
export const MAX_TRANSFER_BYTES = 16 * 1024 * 1024
/** Largest page of one Readdir call. */
export const MAX_READDIR_ENTRIES = 10_000

const Name = Schema.String
const RequestId = Schema.NullOr(Schema.String.pipe(Schema.maxLength(200)))
const Cookie = Schema.NullOr(Schema.String)
const PageSize = Schema.Int.pipe(Schema.between(1, MAX_READDIR_ENTRIES))
const Offset = Schema.Int.pipe(Schema.nonNegative())
const Mode = Schema.Int.pipe(Schema.between(0, 0o7777))
const Id = Schema.Int.pipe(Schema.nonNegative())

export class GetAttr extends Rpc.make("GetAttr", {
  payload: { inode: InodeId }, success: Attributes, error: SandstoreError
}) {}
export class Lookup extends Rpc.make("Lookup", {
  payload: { parent: InodeId, name: Name }, success: Attributes, error: SandstoreError
}) {}
export class LookupPath extends Rpc.make("LookupPath", {
  payload: { path: Schema.String }, success: Attributes, error: SandstoreError
}) {}
export class Access extends Rpc.make("Access", {
  payload: { inode: InodeId, uid: Id, gid: Id, mask: Schema.Int.pipe(Schema.between(0, 7)) },
  error: SandstoreError
}) {}
export class Readdir extends Rpc.make("Readdir", {
  payload: { inode: InodeId, cookie: Cookie, max: PageSize }, success: ReaddirPage, error: SandstoreError
}) {}
export class ReaddirPlus extends Rpc.make("ReaddirPlus", {
  payload: { inode: InodeId, cookie: Cookie, max: PageSize }, success: ReaddirPlusPage, error: SandstoreError
}) {}
export class FsStatRpc extends Rpc.make("FsStat", { success: FsStat, error: SandstoreError }) {}
export class FsInfoRpc extends Rpc.make("FsInfo", { success: FsInfo, error: SandstoreError }) {}
export class TopologyRpc extends Rpc.make("Topology", { success: Topology, error: SandstoreError }) {}

export class Create extends Rpc.make("Create", {
  payload: {
    parent: InodeId, name: Name, mode: Mode, uid: Id, gid: Id, exclusive: Schema.Boolean, requestId: RequestId
  },
  success: Attributes,
  error: SandstoreError
}) {}
export class Mkdir extends Rpc.make("Mkdir", {
  payload: { parent: InodeId, name: Name, mode: Mode, uid: Id, gid: Id, requestId: RequestId },
  success: Attributes,
  error: SandstoreError
}) {}
export class Unlink extends Rpc.make("Unlink", {
  payload: { parent: InodeId, name: Name, requestId: RequestId }, error: SandstoreError
}) {}
export class Rmdir extends Rpc.make("Rmdir", {
  payload: { parent: InodeId, name: Name, requestId: RequestId }, error: SandstoreError
}) {}
export class Rename extends Rpc.make("Rename", {
  payload: { srcParent: InodeId, srcName: Name, dstParent: InodeId, dstName: Name, requestId: RequestId },
  error: SandstoreError
}) {}
export class SetAttr extends Rpc.make("SetAttr", {
  payload: { inode: InodeId, changes: AttributeChanges, requestId: RequestId },
  success: Attributes,
  error: SandstoreError
}) {}
export class Read extends Rpc.make("Read", {
  payload: { inode: InodeId, offset: Offset, length: Schema.Int.pipe(Schema.between(0, MAX_TRANSFER_BYTES)) },
  success: Schema.Uint8ArrayFromSelf,
  error: SandstoreError
}) {}
export class Write extends Rpc.make("Write", {
  payload: {
    inode: InodeId,
    offset: Offset,
    data: Schema.Uint8ArrayFromSelf.pipe(Schema.filter((d) => d.length <= MAX_TRANSFER_BYTES || "write too large")),
    requestId: RequestId,
    /** O_APPEND: ignore `offset` and write at the file's end as of the commit */
    append: Schema.Boolean
  },
  success: Attributes,
  error: SandstoreError
}) {}

export class ClientApi extends RpcGroup.make(
  GetAttr, Lookup, LookupPath, Access, Readdir, ReaddirPlus, FsStatRpc, FsInfoRpc, TopologyRpc,
  Create, Mkdir, Unlink, Rmdir, Rename, SetAttr, Read, Write
) {}
