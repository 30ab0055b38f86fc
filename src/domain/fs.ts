/** Filesystem data shared by every layer and the wire: inodes, attributes, entries, chunks. */
import { Schema } from "effect"

export const ROOT_INODE = 1
export const MAX_NAME_BYTES = 255
export const DEFAULT_CHUNK_SIZE = 8 * 1024 * 1024

/** Inode numbers are allocated by the replicated state machine (a counter in its state). */
export const InodeId = Schema.Int.pipe(Schema.positive())
export type InodeId = typeof InodeId.Type

/** Longest absolute path a request may name (4096 bytes as PATH_MAX). */
export const MAX_PATH_BYTES = 4096

/** An absolute path, as a request names a directory without looking it up first. */
export const AbsolutePath = Schema.String.pipe(Schema.startsWith("/"), Schema.maxLength(MAX_PATH_BYTES))

/**
 * The directory a namespace change is made in: its inode, or its absolute path, which the
 * state machine resolves when it applies the change (one request and one log entry, no
 * separate lookup, and no window in which a rename could move the directory away).
 */
export const DirectoryRef = Schema.Union(InodeId, AbsolutePath)
export type DirectoryRef = typeof DirectoryRef.Type

export const FileType = Schema.Literal("file", "directory")
export type FileType = typeof FileType.Type

/** Times are milliseconds since the epoch, taken by the proposer from `Clock`, never by the applier. */
export const Attributes = Schema.Struct({
  inode: InodeId,
  type: FileType,
  mode: Schema.Int,
  uid: Schema.Int,
  gid: Schema.Int,
  size: Schema.Int,
  nlink: Schema.Int,
  atime: Schema.Number,
  mtime: Schema.Number,
  ctime: Schema.Number
})
export type Attributes = typeof Attributes.Type

/**
 * One chunk of a file: an immutable stored version. `storedLength` bytes were written and
 * `checksum` (crc32c) covers them; `length` (<= storedLength) is how many are part of the file
 * (a truncate shortens it without rewriting the version). Bytes past `length` read as zeros.
 */
export const ChunkRef = Schema.Struct({
  index: Schema.Int,
  versionId: Schema.String,
  storedLength: Schema.Int,
  length: Schema.Int,
  checksum: Schema.Int,
  nodes: Schema.Array(Schema.String)
})
export type ChunkRef = typeof ChunkRef.Type

export const DirEntry = Schema.Struct({
  name: Schema.String,
  inode: InodeId,
  type: FileType
})
export type DirEntry = typeof DirEntry.Type

export const DirEntryPlus = Schema.Struct({
  name: Schema.String,
  inode: InodeId,
  type: FileType,
  attributes: Attributes
})
export type DirEntryPlus = typeof DirEntryPlus.Type

/** `cookie` is the name to resume after (stable under concurrent change); null when the listing is complete. */
export const ReaddirPage = Schema.Struct({
  entries: Schema.Array(DirEntry),
  cookie: Schema.NullOr(Schema.String)
})
export type ReaddirPage = typeof ReaddirPage.Type

export const ReaddirPlusPage = Schema.Struct({
  entries: Schema.Array(DirEntryPlus),
  cookie: Schema.NullOr(Schema.String)
})
export type ReaddirPlusPage = typeof ReaddirPlusPage.Type

export const FsStat = Schema.Struct({
  files: Schema.Int,
  directories: Schema.Int,
  bytes: Schema.Int,
  chunks: Schema.Int
})
export type FsStat = typeof FsStat.Type

export const FsInfo = Schema.Struct({
  chunkSize: Schema.Int,
  maxNameBytes: Schema.Int,
  maxFileSize: Schema.Int,
  replication: Schema.Int,
  /** A client session unused this long expires: clients keep theirs alive well within it. */
  sessionTimeoutMillis: Schema.Int
})
export type FsInfo = typeof FsInfo.Type

/** Attribute changes of setattr; `size` truncates or extends (extension reads as zeros). */
export const AttributeChanges = Schema.Struct({
  mode: Schema.optional(Schema.Int),
  uid: Schema.optional(Schema.Int),
  gid: Schema.optional(Schema.Int),
  atime: Schema.optional(Schema.Number),
  mtime: Schema.optional(Schema.Number),
  size: Schema.optional(Schema.Int.pipe(Schema.nonNegative()))
})
export type AttributeChanges = typeof AttributeChanges.Type

/** access(2) mask bits. */
export const R_OK = 4
export const W_OK = 2
export const X_OK = 1
