/**
 * Commands of the replicated metadata state machine. Everything an apply needs is in the
 * command (times from the proposer's Clock, version ids from the proposer), so every replica
 * computes the same state from the same log. Inode numbers come from a counter in the state.
 */
import { Schema } from "effect"
import { FsError } from "./errors.ts"
import { Attributes, AttributeChanges, ChunkRef, InodeId } from "./fs.ts"

/** A write transaction must commit within this long of planning it, or it conflicts. */
export const TRANSACTION_TTL_MILLIS = 60_000

export const Create = Schema.TaggedStruct("Create", {
  parent: InodeId,
  name: Schema.String,
  mode: Schema.Int,
  uid: Schema.Int,
  gid: Schema.Int,
  /** exclusive: EEXIST if the name exists; otherwise an existing regular file is returned as is */
  exclusive: Schema.Boolean,
  now: Schema.Number
})

export const Mkdir = Schema.TaggedStruct("Mkdir", {
  parent: InodeId,
  name: Schema.String,
  mode: Schema.Int,
  uid: Schema.Int,
  gid: Schema.Int,
  now: Schema.Number
})

export const Unlink = Schema.TaggedStruct("Unlink", { parent: InodeId, name: Schema.String, now: Schema.Number })

export const Rmdir = Schema.TaggedStruct("Rmdir", { parent: InodeId, name: Schema.String, now: Schema.Number })

export const Rename = Schema.TaggedStruct("Rename", {
  srcParent: InodeId,
  srcName: Schema.String,
  dstParent: InodeId,
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

/** Committed by a new leader at the start of its term; changes no state. */
export const Noop = Schema.TaggedStruct("Noop", {})

export const MetadataCommand = Schema.Union(Create, Mkdir, Unlink, Rmdir, Rename, SetAttr, CommitWrite, ForgetGarbage, Noop)
export type MetadataCommand = typeof MetadataCommand.Type

/**
 * What is written to the log. `requestId` (client id + sequence) lets the state machine
 * deduplicate a retried mutation: a second entry with the same id returns the first outcome.
 */
export const LogEntry = Schema.Struct({
  requestId: Schema.NullOr(Schema.String),
  command: MetadataCommand
})
export type LogEntry = typeof LogEntry.Type

/** Result of a command: the attributes it produced (create, mkdir, setattr, write) or null. */
export const CommandResult = Schema.NullOr(Attributes)
export type CommandResult = typeof CommandResult.Type

/** The outcome of applying one entry, kept for deduplication and returned to the proposer. */
export const CommandOutcome = Schema.Union(
  Schema.TaggedStruct("Ok", { result: CommandResult }),
  Schema.TaggedStruct("Err", { error: FsError })
)
export type CommandOutcome = typeof CommandOutcome.Type
