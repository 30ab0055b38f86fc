/**
 * Stored values of the metadata store. Each record is a msgpack array with a fixed field
 * order (no maps, no record extension), so the same state is the same bytes on every replica.
 * Decoding checks every field, so a damaged value is a `Corruption` (thrown: the state machine's
 * transitions are synchronous, see namespace.ts), never a crash. The hot
 * records use a field list checked by hand (a Schema transform costs ~3.5 µs per value, 10x
 * the msgpack work); a session's reply record holds typed errors and goes through `CommandOutcome`.
 */
import { Either, ParseResult, Schema } from "effect"
import { Packr } from "msgpackr"
import { CommandOutcome } from "../../src/domain/commands.ts"
import { Corruption } from "../../src/domain/errors.ts"
import type { Attributes, ChunkRef, FileType } from "../../src/domain/fs.ts"

const packr = new Packr({ useRecords: false, int64AsType: "number" })

type FieldKind = "int" | "number" | "string" | "strings" | "fileType"

const isInt = (v: unknown): v is number => Number.isSafeInteger(v)

const valid: Record<FieldKind, (v: unknown) => boolean> = {
  int: isInt,
  number: (v) => typeof v === "number",
  string: (v) => typeof v === "string",
  strings: (v) => Array.isArray(v) && v.every((s) => typeof s === "string"),
  fileType: (v) => v === 0 || v === 1
}

const undecodable = (what: string, detail: string): never => {
  throw new Corruption({ message: `metadata store: malformed ${what} record: ${detail}` })
}

const unpack = (bytes: Uint8Array): Either.Either<unknown, string> => {
  try {
    return Either.right(packr.unpack(bytes))
  } catch {
    return Either.left("not msgpack")
  }
}

export interface RecordCodec<A> {
  readonly encode: (value: A) => Buffer
  /** The record `bytes` hold; throws Corruption when they hold none. */
  readonly decode: (bytes: Uint8Array) => A
}

/** Fields in a fixed order, each with what it must hold. */
type Layout<A> = ReadonlyArray<readonly [keyof A & string, FieldKind]>

const layoutOf = <A>(fields: { readonly [K in keyof A]-?: FieldKind }): Layout<A> =>
  Object.entries(fields) as Array<[keyof A & string, FieldKind]>

/** Append `value`'s fields to `out` in `layout`'s order, as stored. */
const pushFields = <A>(out: Array<unknown>, layout: Layout<A>, value: A): Array<unknown> => {
  for (const [name, kind] of layout) out.push(kind === "fileType" ? (value[name] === "file" ? 0 : 1) : value[name])
  return out
}

/** The fields of `layout` read from `values` at `from`; throws Corruption naming `what`. */
const readFields = <A>(what: string, layout: Layout<A>, values: ReadonlyArray<unknown>, from: number): A => {
  const record: Record<string, unknown> = {}
  for (let i = 0; i < layout.length; i++) {
    const [name, kind] = layout[i]!
    const v: unknown = values[from + i]
    if (!valid[kind](v)) return undecodable(what, `bad ${name}`)
    record[name] = kind === "fileType" ? (v === 0 ? "file" : "directory") : v
  }
  return record as A
}

/** A record stored as the array of its fields in the order `fields` lists them. */
const tupleCodec = <A>(what: string, fields: { readonly [K in keyof A]-?: FieldKind }): RecordCodec<A> => {
  const layout = layoutOf<A>(fields)
  return {
    encode: (value) => packr.pack(pushFields([], layout, value)),
    decode: (bytes) => {
      const raw = unpack(bytes)
      if (Either.isLeft(raw)) return undecodable(what, raw.left)
      const values = raw.right
      if (!Array.isArray(values) || values.length !== layout.length) return undecodable(what, "wrong shape")
      return readFields(what, layout, values, 0)
    }
  }
}

/** An inode: its attributes (minus the id, which is the key), its parent and its entry count. */
export interface InodeRecord {
  readonly type: FileType
  readonly mode: number
  readonly uid: number
  readonly gid: number
  readonly size: number
  readonly nlink: number
  readonly atime: number
  readonly mtime: number
  readonly ctime: number
  /** the directory holding this inode's only name (the root is its own parent) */
  readonly parent: number
  /** number of names in a directory (0 for files): rmdir's emptiness check without a scan */
  readonly entries: number
}

export const InodeCodec = tupleCodec<InodeRecord>("inode", {
  type: "fileType", mode: "int", uid: "int", gid: "int", size: "int", nlink: "int",
  atime: "number", mtime: "number", ctime: "number", parent: "int", entries: "int"
})

export const toAttributes = (inode: number, r: InodeRecord): Attributes => ({
  inode,
  type: r.type,
  mode: r.mode,
  uid: r.uid,
  gid: r.gid,
  size: r.size,
  nlink: r.nlink,
  atime: r.atime,
  mtime: r.mtime,
  ctime: r.ctime
})

/** A directory entry's value: the inode it names and its type (readdir needs no inode read). */
export interface EntryRecord {
  readonly inode: number
  readonly type: FileType
}

export const EntryCodec = tupleCodec<EntryRecord>("directory entry", { inode: "int", type: "fileType" })

/** A chunk reference, used both for a file's chunk map and for the garbage list. */
export const ChunkCodec = tupleCodec<ChunkRef>("chunk", {
  index: "int", versionId: "string", storedLength: "int", length: "int", checksum: "int", nodes: "strings"
})

/** The applied index, the counters of the state (inode allocator, garbage sequence, fsstat) and its clock. */
export interface MetaRecord {
  readonly appliedIndex: number
  readonly nextInode: number
  readonly nextGarbage: number
  readonly files: number
  readonly directories: number
  readonly bytes: number
  readonly chunks: number
  /** the latest `now` of any applied command: the state machine's deterministic clock */
  readonly clock: number
}

export const MetaCodec = tupleCodec<MetaRecord>("meta", {
  appliedIndex: "int", nextInode: "int", nextGarbage: "int", files: "int", directories: "int", bytes: "int", chunks: "int",
  clock: "number"
})

/** A client session: when it was last active (state machine clock) and what the client acknowledged. */
export interface SessionRecord {
  readonly lastActive: number
  /** Every request numbered below this was answered to the client; their replies are dropped. */
  readonly ackedBelow: number
}

export const SessionCodec = tupleCodec<SessionRecord>("session", { lastActive: "number", ackedBelow: "int" })

/** The sequence number of a garbage version. */
export const IntCodec: RecordCodec<number> = {
  encode: (value) => packr.pack(value),
  decode: (bytes) => {
    const raw = unpack(bytes)
    return Either.isRight(raw) && isInt(raw.right) ? raw.right : undecodable("garbage index", "not an integer")
  }
}

/** The outcome a request produced, and the digest of the request: another request under its id is refused. */
export interface ReplyRecord {
  readonly digest: number
  readonly outcome: CommandOutcome
}

const StoredReply = Schema.Tuple(Schema.Int, CommandOutcome)
const encodeStoredReply = Schema.encodeSync(StoredReply)
const decodeStoredReply = Schema.decodeUnknownEither(StoredReply)

/**
 * Nearly every recorded outcome is a success, with attributes or without, and one is recorded
 * per mutation; those are flat arrays checked by hand, `[digest, 0]` and `[digest, 1, ...the
 * attributes]`, as the hot records are. Errors go through `CommandOutcome`'s Schema as
 * `[digest, encoded outcome]`, whose second element is an object, never a number.
 */
const OK_NULL = 0
const OK_ATTRIBUTES = 1
const attributeLayout = layoutOf<Attributes>({
  inode: "int", type: "fileType", mode: "int", uid: "int", gid: "int", size: "int", nlink: "int",
  atime: "number", mtime: "number", ctime: "number"
})

export const ReplyCodec: RecordCodec<ReplyRecord> = {
  encode: ({ digest, outcome }) => {
    if (outcome._tag === "Err") return packr.pack(encodeStoredReply([digest, outcome]))
    const result = outcome.result
    if (result === null) return packr.pack([digest, OK_NULL])
    return packr.pack(pushFields([digest, OK_ATTRIBUTES], attributeLayout, result))
  },
  decode: (bytes) => {
    const raw = unpack(bytes)
    if (Either.isLeft(raw)) return undecodable("reply", raw.left)
    const values = raw.right
    if (Array.isArray(values) && typeof values[1] === "number") {
      const digest: unknown = values[0]
      if (!isInt(digest)) return undecodable("reply", "bad digest")
      if (values[1] === OK_NULL && values.length === 2) return { digest, outcome: { _tag: "Ok", result: null } }
      if (values[1] === OK_ATTRIBUTES && values.length === 2 + attributeLayout.length) {
        const result = readFields("reply", attributeLayout, values, 2)
        if (result.inode < 1) return undecodable("reply", "bad inode")
        return { digest, outcome: { _tag: "Ok", result } }
      }
      return undecodable("reply", "wrong shape")
    }
    return Either.match(decodeStoredReply(values), {
      onLeft: (error) => undecodable("reply", ParseResult.TreeFormatter.formatErrorSync(error)),
      onRight: ([digest, outcome]) => ({ digest, outcome })
    })
  }
}
