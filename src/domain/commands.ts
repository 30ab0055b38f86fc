/**
 * Commands of the replicated metadata state machine. Everything an apply needs is in the
 * command (times from the proposer's Clock, version ids from the proposer), so every replica
 * computes the same state from the same log. Inode numbers come from a counter in the state.
 */
import { Schema } from "effect"
import { CommandError } from "./errors.ts"
import { Attributes, AttributeChanges, ChunkRef, DirectoryRef, InodeId } from "./fs.ts"
import { SessionId } from "./session.ts"

/** A write transaction must commit within this long of planning it, or it conflicts. */
export const TRANSACTION_TTL_MILLIS = 60_000

/** A client session unused this long (by the state machine's clock) expires. */
export const SESSION_TIMEOUT_MILLIS = 10 * 60_000

export const Create = Schema.TaggedStruct("Create", {
  parent: DirectoryRef,
  name: Schema.String,
  mode: Schema.Int,
  uid: Schema.Int,
  gid: Schema.Int,
  /** exclusive: EEXIST if the name exists; otherwise an existing regular file is returned as is */
  exclusive: Schema.Boolean,
  now: Schema.Number
})

export const Mkdir = Schema.TaggedStruct("Mkdir", {
  parent: DirectoryRef,
  name: Schema.String,
  mode: Schema.Int,
  uid: Schema.Int,
  gid: Schema.Int,
  now: Schema.Number
})

export const Unlink = Schema.TaggedStruct("Unlink", { parent: DirectoryRef, name: Schema.String, now: Schema.Number })

export const Rmdir = Schema.TaggedStruct("Rmdir", { parent: DirectoryRef, name: Schema.String, now: Schema.Number })

export const Rename = Schema.TaggedStruct("Rename", {
  srcParent: DirectoryRef,
  srcName: Schema.String,
  dstParent: DirectoryRef,
  dstName: Schema.String,
  now: Schema.Number
})

export const SetAttr = Schema.TaggedStruct("SetAttr", { inode: InodeId, changes: AttributeChanges, now: Schema.Number })

/**
 * One chunk of a write: replace the chunk at `chunk.index`, only if it is still
 * `expectedVersionId` with `expectedLength` file bytes (what the writer merged its bytes into;
 * a truncate keeps the version but shortens it, and must not be undone).
 */
export const ChunkUpdate = Schema.Struct({
  expectedVersionId: Schema.NullOr(Schema.String),
  expectedLength: Schema.Int.pipe(Schema.nonNegative()),
  chunk: ChunkRef
})
export type ChunkUpdate = typeof ChunkUpdate.Type

/**
 * The commit record of a two-phase write: all chunk updates apply atomically, or none does
 * (Conflict) when any expected version is no longer current, or when a new version was minted
 * (its id carries the time) more than TRANSACTION_TTL_MILLIS before the state machine's clock
 * (the latest `now` it has applied). Size becomes max(size, end).
 */
export const CommitWrite = Schema.TaggedStruct("CommitWrite", {
  inode: InodeId,
  txId: Schema.String,
  updates: Schema.Array(ChunkUpdate),
  end: Schema.Int,
  now: Schema.Number,
  /** An append was planned at this size: if the file's size changed since, Conflict (re-plan at the new end). */
  expectedSize: Schema.optional(Schema.Int)
})

/**
 * Forget chunk versions the collector has deleted from every node. `now` (the collector's
 * time) advances the state machine's clock, after which no write transaction older than
 * TRANSACTION_TTL_MILLIS can commit: what the collector then finds unreferenced is orphaned.
 */
export const ForgetGarbage = Schema.TaggedStruct("ForgetGarbage", {
  versionIds: Schema.Array(Schema.String),
  now: Schema.optional(Schema.Number)
})

/**
 * Chunk `index` of `inode` has a copy on `to` instead of `from` (the re-replicator copied it
 * there because `from` is gone). Applies only while the chunk is still at `versionId` with
 * `from` among its nodes and `to` not; otherwise it changes nothing (a write replaced the
 * version meanwhile, and the copy on `to` is an orphan for the collector).
 */
export const MoveReplica = Schema.TaggedStruct("MoveReplica", {
  inode: InodeId,
  index: Schema.Int,
  versionId: Schema.String,
  from: Schema.String,
  to: Schema.String
})

/** Committed by a new leader at the start of its term; changes no state. */
export const Noop = Schema.TaggedStruct("Noop", {})

/**
 * Open client session `session` (the client's random id) with `create`, or keep an open one
 * alive without: its requests are deduplicated from now on, until it closes or goes unused for
 * the session timeout (by the state machine's clock). A session that is not open (it expired,
 * or was closed or pruned) is never opened again by a keep-alive (SessionExpired); only a
 * client's first open creates, and a client opens each id once.
 */
export const OpenSession = Schema.TaggedStruct("OpenSession", { session: SessionId, create: Schema.Boolean, now: Schema.Number })

/** Close a session: its recorded outcomes are dropped and its further requests are refused. */
export const CloseSession = Schema.TaggedStruct("CloseSession", { session: SessionId, now: Schema.Number })

export const MetadataCommand = Schema.Union(
  Create, Mkdir, Unlink, Rmdir, Rename, SetAttr, CommitWrite, ForgetGarbage, MoveReplica, Noop, OpenSession, CloseSession
)
export type MetadataCommand = typeof MetadataCommand.Type

/**
 * Which client request an entry carries out: its place in the client's session and a digest
 * of what the client asked (not of how the node carried it out). The state machine applies a
 * request at most once: an entry of a request it already answered gets that answer; one whose
 * id already named a different request, or one the client had acknowledged, is refused.
 */
export const RequestTag = Schema.Struct({
  session: SessionId,
  /** Counts up from 1 per session; a request keeps its number across every resend. */
  seq: Schema.Int.pipe(Schema.positive()),
  /** Every request of the session numbered below this has been answered to the client. */
  ackedBelow: Schema.NonNegativeInt,
  /** 32 bits over the client's request: a reused id with another request is told apart. */
  digest: Schema.Int
})
export type RequestTag = typeof RequestTag.Type

/**
 * What is written to the log: a command, the client request it serves (null for the node's
 * own), and the replicated clock as its proposer read it (layers/replicator/replicatedClock.ts):
 * the state machine's clock becomes the largest it applied. (Without one, the command's own
 * time counts.)
 */
export const LogEntry = Schema.Struct({
  request: Schema.NullOr(RequestTag),
  command: MetadataCommand,
  clock: Schema.optional(Schema.Number)
})
export type LogEntry = typeof LogEntry.Type

/** Result of a command: the attributes it produced (create, mkdir, setattr, write) or null. */
export const CommandResult = Schema.NullOr(Attributes)
export type CommandResult = typeof CommandResult.Type

/** The outcome of applying one entry, kept for deduplication and returned to the proposer. */
export const CommandOutcome = Schema.Union(
  Schema.TaggedStruct("Ok", { result: CommandResult }),
  Schema.TaggedStruct("Err", { error: CommandError })
)
export type CommandOutcome = typeof CommandOutcome.Type
