/**
 * Typed reads and writes of the store's tables, over a transaction (apply) or a store read
 * view (queries). Values are decoded through their record schema; a dangling reference is a
 * `Corruption` because the state machine never writes one.
 */
import { Effect } from "effect"
import { Corruption, InvalidArgument, IsADirectory, NotADirectory, NotFound } from "../../src/domain/errors.ts"
import { type ChunkRef, type DirectoryRef, ROOT_INODE } from "../../src/domain/fs.ts"
import type { StoreError } from "../../src/services/MetadataService.ts"
import * as Keys from "./keys.ts"
import { nameProblem } from "./names.ts"
import type { SessionId } from "../../src/domain/session.ts"
import {
  ChunkCodec, EntryCodec, type EntryRecord, InodeCodec, type InodeRecord, IntCodec, MetaCodec, type MetaRecord,
  ReplyCodec, type ReplyRecord, SessionCodec, type SessionRecord
} from "./records.ts"

/** Point reads, from whichever source the caller reads. */
export type Get = (key: Buffer) => Effect.Effect<Buffer | undefined, StoreError>

export const encodeInode = InodeCodec.encode
export const encodeEntry = EntryCodec.encode
export const encodeChunk = ChunkCodec.encode
export const encodeMeta = MetaCodec.encode
export const encodeSession = SessionCodec.encode
export const encodeReply = ReplyCodec.encode
export const encodeInt = IntCodec.encode

export const decodeInode = InodeCodec.decode
export const decodeEntry = EntryCodec.decode
export const decodeChunk = ChunkCodec.decode
export const decodeMeta = MetaCodec.decode
export const decodeSession = SessionCodec.decode
export const decodeReply = ReplyCodec.decode
export const decodeInt = IntCodec.decode

/** Inode numbers from the wire are checked before they become keys. */
export const isInodeNumber = (n: number): boolean => Number.isSafeInteger(n) && n >= 1

const decodeIfPresent = <A>(decode: (bytes: Uint8Array) => Effect.Effect<A, Corruption>) =>
  (bytes: Buffer | undefined): Effect.Effect<A | undefined, Corruption> =>
    bytes === undefined ? Effect.succeed(undefined) : decode(bytes)

export const readInode = (get: Get, inode: number): Effect.Effect<InodeRecord | undefined, StoreError> =>
  isInodeNumber(inode) ? Effect.flatMap(get(Keys.inodeKey(inode)), decodeIfPresent(decodeInode)) : Effect.succeed(undefined)

export const requireInode = (get: Get, inode: number): Effect.Effect<InodeRecord, NotFound | StoreError> =>
  Effect.flatMap(readInode(get, inode), (record) =>
    record === undefined ? Effect.fail(new NotFound({ message: `no inode ${inode}` })) : Effect.succeed(record))

export const requireDirectory = (
  get: Get,
  inode: number
): Effect.Effect<InodeRecord, NotFound | NotADirectory | StoreError> =>
  Effect.flatMap(requireInode(get, inode), (record) =>
    record.type === "directory"
      ? Effect.succeed(record)
      : Effect.fail(new NotADirectory({ message: `inode ${inode} is not a directory` })))

export const requireFile = (get: Get, inode: number): Effect.Effect<InodeRecord, NotFound | IsADirectory | StoreError> =>
  Effect.flatMap(requireInode(get, inode), (record) =>
    record.type === "file"
      ? Effect.succeed(record)
      : Effect.fail(new IsADirectory({ message: `inode ${inode} is a directory` })))

/** The inode an entry names; it must exist. */
export const requireTarget = (get: Get, entry: EntryRecord): Effect.Effect<InodeRecord, StoreError> =>
  Effect.flatMap(readInode(get, entry.inode), (record) =>
    record === undefined
      ? Effect.fail(new Corruption({ message: `metadata store: entry names missing inode ${entry.inode}` }))
      : Effect.succeed(record))

export const readEntry = (get: Get, parent: number, name: string): Effect.Effect<EntryRecord | undefined, StoreError> =>
  Effect.flatMap(get(Keys.entryKey(parent, name)), decodeIfPresent(decodeEntry))

export const readChunk = (get: Get, inode: number, index: number): Effect.Effect<ChunkRef | undefined, StoreError> =>
  Effect.flatMap(get(Keys.chunkKey(inode, index)), decodeIfPresent(decodeChunk))

export const readMeta = (get: Get): Effect.Effect<MetaRecord | undefined, StoreError> =>
  Effect.flatMap(get(Keys.metaKey), decodeIfPresent(decodeMeta))

export const readSession = (get: Get, session: SessionId): Effect.Effect<SessionRecord | undefined, StoreError> =>
  Effect.flatMap(get(Keys.sessionKey(session)), decodeIfPresent(decodeSession))

export const readReply = (get: Get, session: SessionId, seq: number): Effect.Effect<ReplyRecord | undefined, StoreError> =>
  Effect.flatMap(get(Keys.replyKey(session, seq)), decodeIfPresent(decodeReply))

/**
 * The inode an absolute path names, and its record: each component is looked up in the
 * directory the path reached so far ("." stays, ".." goes to the parent, empty components are
 * skipped). Anything after a file's name, even "." or a trailing "/", needs it to be a directory.
 */
export const resolvePath = (
  get: Get,
  path: string
): Effect.Effect<{ readonly inode: number; readonly record: InodeRecord }, NotFound | NotADirectory | InvalidArgument | StoreError> =>
  Effect.gen(function*() {
    if (!path.startsWith("/")) return yield* new InvalidArgument({ message: "path is not absolute", path })
    let inode = ROOT_INODE
    let record = yield* requireInode(get, ROOT_INODE)
    for (const component of path.split("/").slice(1)) {
      if (record.type !== "directory") return yield* new NotADirectory({ message: `not a directory in ${path}`, path })
      if (component === "" || component === ".") continue
      if (component === "..") {
        inode = record.parent
        record = yield* requireInode(get, inode)
        continue
      }
      const problem = nameProblem(component)
      if (problem !== undefined) return yield* new InvalidArgument({ message: problem, path })
      const entry = yield* readEntry(get, inode, component)
      if (entry === undefined) return yield* new NotFound({ message: "no such file or directory", path })
      inode = entry.inode
      record = yield* requireTarget(get, entry)
    }
    return { inode, record }
  })

/** The directory a change names, by inode or by path, with its record. */
export const requireDirectoryRef = (
  get: Get,
  ref: DirectoryRef
): Effect.Effect<{ readonly inode: number; readonly record: InodeRecord }, NotFound | NotADirectory | InvalidArgument | StoreError> =>
  typeof ref === "number"
    ? Effect.map(requireDirectory(get, ref), (record) => ({ inode: ref, record }))
    : Effect.flatMap(resolvePath(get, ref), (found) =>
      found.record.type === "directory"
        ? Effect.succeed(found)
        : Effect.fail(new NotADirectory({ message: "not a directory", path: ref })))
