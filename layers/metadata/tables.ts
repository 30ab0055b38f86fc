/**
 * Typed reads and writes of the store's tables, over a transaction (apply) or a store read
 * view (queries). Values are decoded through their record schema; a dangling reference is a
 * `Corruption` because the state machine never writes one.
 *
 * Everything here is synchronous and throws its typed errors (namespace errors, `IoError`,
 * `Corruption`): a transition runs start to end without yielding, and the Effect at its edge
 * (namespace.ts, queries.ts: `attempt`) turns what it throws back into a typed failure.
 */
import { Effect, Schema } from "effect"
import { CommandError, Corruption, InvalidArgument, IoError, IsADirectory, NotADirectory, NotFound } from "../../src/domain/errors.ts"
import { type ChunkRef, type DirectoryRef, ROOT_INODE } from "../../src/domain/fs.ts"
import type { StoreError } from "../../src/services/MetadataService.ts"
import * as Keys from "./keys.ts"
import { nameProblem } from "./names.ts"
import type { SessionId } from "../../src/domain/session.ts"
import {
  ChunkCodec, EntryCodec, type EntryRecord, InodeCodec, type InodeRecord, IntCodec, MetaCodec, type MetaRecord,
  ReplyCodec, type ReplyRecord, SessionCodec, type SessionRecord
} from "./records.ts"

/** Point reads, from whichever source the caller reads; throws IoError. */
export type Get = (key: Buffer) => Buffer | undefined

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

const isThrownTyped = Schema.is(Schema.Union(CommandError, IoError, Corruption))

/** What a synchronous piece threw: a typed error becomes a failure (the caller names which it can throw), anything else a defect. */
export const fromThrown = <E>(thrown: unknown): Effect.Effect<never, E> =>
  isThrownTyped(thrown) ? Effect.fail(thrown as E) : Effect.die(thrown)

/** Run a synchronous piece of the state machine, its thrown typed errors as failures. */
export const attempt = <A, E = StoreError>(piece: () => A): Effect.Effect<A, E> =>
  Effect.suspend(() => {
    try {
      return Effect.succeed(piece())
    } catch (thrown) {
      return fromThrown<E>(thrown)
    }
  })

/** Inode numbers from the wire are checked before they become keys. */
export const isInodeNumber = (n: number): boolean => Number.isSafeInteger(n) && n >= 1

export const readInode = (get: Get, inode: number): InodeRecord | undefined => {
  if (!isInodeNumber(inode)) return undefined
  const bytes = get(Keys.inodeKey(inode))
  return bytes === undefined ? undefined : decodeInode(bytes)
}

/** Throws NotFound. */
export const requireInode = (get: Get, inode: number): InodeRecord => {
  const record = readInode(get, inode)
  if (record === undefined) throw new NotFound({ message: `no inode ${inode}` })
  return record
}

/** Throws NotFound, NotADirectory. */
export const requireDirectory = (get: Get, inode: number): InodeRecord => {
  const record = requireInode(get, inode)
  if (record.type !== "directory") throw new NotADirectory({ message: `inode ${inode} is not a directory` })
  return record
}

/** Throws NotFound, IsADirectory. */
export const requireFile = (get: Get, inode: number): InodeRecord => {
  const record = requireInode(get, inode)
  if (record.type !== "file") throw new IsADirectory({ message: `inode ${inode} is a directory` })
  return record
}

/** The inode an entry names; it must exist. */
export const requireTarget = (get: Get, entry: EntryRecord): InodeRecord => {
  const record = readInode(get, entry.inode)
  if (record === undefined) throw new Corruption({ message: `metadata store: entry names missing inode ${entry.inode}` })
  return record
}

export const readEntry = (get: Get, parent: number, name: string): EntryRecord | undefined => {
  const bytes = get(Keys.entryKey(parent, name))
  return bytes === undefined ? undefined : decodeEntry(bytes)
}

export const readChunk = (get: Get, inode: number, index: number): ChunkRef | undefined => {
  const bytes = get(Keys.chunkKey(inode, index))
  return bytes === undefined ? undefined : decodeChunk(bytes)
}

export const readMeta = (get: Get): MetaRecord | undefined => {
  const bytes = get(Keys.metaKey)
  return bytes === undefined ? undefined : decodeMeta(bytes)
}

/** Throws Corruption when the store has no meta record. */
export const requireMeta = (get: Get): MetaRecord => {
  const meta = readMeta(get)
  if (meta === undefined) throw new Corruption({ message: "metadata store: meta record is missing" })
  return meta
}

export const readSession = (get: Get, session: SessionId): SessionRecord | undefined => {
  const bytes = get(Keys.sessionKey(session))
  return bytes === undefined ? undefined : decodeSession(bytes)
}

export const readReply = (get: Get, session: SessionId, seq: number): ReplyRecord | undefined => {
  const bytes = get(Keys.replyKey(session, seq))
  return bytes === undefined ? undefined : decodeReply(bytes)
}

/**
 * The inode an absolute path names, and its record: each component is looked up in the
 * directory the path reached so far ("." stays, ".." goes to the parent, empty components are
 * skipped). Anything after a file's name, even "." or a trailing "/", needs it to be a directory.
 * Throws NotFound, NotADirectory, InvalidArgument.
 */
export const resolvePath = (get: Get, path: string): { readonly inode: number; readonly record: InodeRecord } => {
  if (!path.startsWith("/")) throw new InvalidArgument({ message: "path is not absolute", path })
  let inode = ROOT_INODE
  let record = requireInode(get, ROOT_INODE)
  for (const component of path.split("/").slice(1)) {
    if (record.type !== "directory") throw new NotADirectory({ message: `not a directory in ${path}`, path })
    if (component === "" || component === ".") continue
    if (component === "..") {
      inode = record.parent
      record = requireInode(get, inode)
      continue
    }
    const problem = nameProblem(component)
    if (problem !== undefined) throw new InvalidArgument({ message: problem, path })
    const entry = readEntry(get, inode, component)
    if (entry === undefined) throw new NotFound({ message: "no such file or directory", path })
    inode = entry.inode
    record = requireTarget(get, entry)
  }
  return { inode, record }
}

/** The directory a change names, by inode or by path, with its record. Throws NotFound, NotADirectory, InvalidArgument. */
export const requireDirectoryRef = (get: Get, ref: DirectoryRef): { readonly inode: number; readonly record: InodeRecord } => {
  if (typeof ref === "number") return { inode: ref, record: requireDirectory(get, ref) }
  const found = resolvePath(get, ref)
  if (found.record.type !== "directory") throw new NotADirectory({ message: "not a directory", path: ref })
  return found
}
