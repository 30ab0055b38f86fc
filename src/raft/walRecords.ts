/**
 * What the metadata replicators keep in their write-ahead logs: log entries, the hard state
 * (term, vote, commit index) and snapshots. The single-node replicator writes `Entry` records
 * (a decoded LogEntry); the Raft replicator writes `RaftEntry` records (the entry's bytes as
 * they travel between nodes, so persisting never re-encodes them). The record type byte says which; the payload is the
 * Schema-encoded value as msgpack (without the tag, which the type byte already carries).
 * Decoding goes through the Schema, so a payload that passed its crc but does not decode is
 * a `Corruption`, never a crash.
 */
import { Either, ParseResult, Schema } from "effect"
import { Packr } from "msgpackr"
import { LogEntry } from "../domain/commands.ts"
import { transforms } from "../lib/checkedOnDecode.ts"
import { Corruption } from "../domain/errors.ts"
import type { WalRecord } from "../services/WriteAheadLog.ts"

const LogIndex = Schema.Int.pipe(Schema.nonNegative())
const Term = Schema.Int.pipe(Schema.nonNegative())

/** One log entry at its position. A later Entry at an index already present replaces it and all after it. */
export const EntryRecord = Schema.TaggedStruct("Entry", { index: LogIndex, term: Term, entry: LogEntry })
export type EntryRecord = typeof EntryRecord.Type

/**
 * Raft's persistent term and vote: written before any message that depends on them. `commit`
 * (absent in logs written before it existed: 0) is a lower bound of the commit index, so a
 * restarted node can apply what it knows committed before it hears from a leader.
 */
export const HardStateRecord = Schema.TaggedStruct("HardState", {
  term: Term,
  votedFor: Schema.NullOr(Schema.String),
  commit: Schema.optionalWith(LogIndex, { default: () => 0 })
})
export type HardStateRecord = typeof HardStateRecord.Type

/**
 * The state machine at `index` (the MetadataService snapshot bytes) inside the log. Written by
 * earlier versions (a whole store copied into one record); still read back, never written now.
 */
export const SnapshotRecord = Schema.TaggedStruct("Snapshot", {
  index: LogIndex,
  term: Term,
  data: Schema.Uint8ArrayFromSelf
})
export type SnapshotRecord = typeof SnapshotRecord.Type

/**
 * Where a log was compacted when the state at `index` is in the metadata store itself (made
 * durable before this record was written) rather than in the log: it heads a compacted log like
 * `Snapshot`, without copying the whole store into the log. A store found behind it lost writes
 * it had made durable: Corruption.
 */
export const SnapshotMarkRecord = Schema.TaggedStruct("SnapshotMark", {
  index: LogIndex,
  term: Term
})
export type SnapshotMarkRecord = typeof SnapshotMarkRecord.Type

/**
 * A snapshot received from the leader heads the log: the state machine at `index` is the
 * SnapshotStore's snapshot at (index, term), `size` bytes, made durable before this record was
 * written. A store found behind it is restored from that snapshot, which is kept until the
 * store holds the state durably (a later SnapshotMark).
 */
export const SnapshotFileRecord = Schema.TaggedStruct("SnapshotFile", {
  index: LogIndex,
  term: Term,
  size: Schema.Int.pipe(Schema.nonNegative())
})
export type SnapshotFileRecord = typeof SnapshotFileRecord.Type

/**
 * A Raft log entry at its position: `data` is the encoded LogEntry (empty for a leader's
 * no-op). Like `Entry`, a later record at an index already present replaces it and all after it.
 */
export const RaftEntryRecord = Schema.TaggedStruct("RaftEntry", {
  index: LogIndex,
  term: Term,
  type: Schema.Literal("normal", "noop"),
  data: Schema.Uint8ArrayFromSelf
})
export type RaftEntryRecord = typeof RaftEntryRecord.Type

export type ReplicatorRecord =
  | EntryRecord
  | HardStateRecord
  | SnapshotRecord
  | RaftEntryRecord
  | SnapshotMarkRecord
  | SnapshotFileRecord

/** Record type bytes. 0 and 255 are reserved by the codec and the log file layer. */
export const ReplicatorRecordType = { Entry: 1, HardState: 2, Snapshot: 3, RaftEntry: 4, SnapshotMark: 5, SnapshotFile: 6 } as const

const schemaOf = {
  Entry: EntryRecord,
  HardState: HardStateRecord,
  Snapshot: SnapshotRecord,
  RaftEntry: RaftEntryRecord,
  SnapshotMark: SnapshotMarkRecord,
  SnapshotFile: SnapshotFileRecord
} as const

const tagOfType = new Map<number, ReplicatorRecord["_tag"]>(
  Object.entries(ReplicatorRecordType).map(([tag, type]) => [type, tag as ReplicatorRecord["_tag"]])
)

// Maps, not records: a payload decodes on its own, without structures shared across records.
const packr = new Packr({ useRecords: false, int64AsType: "number" })

/**
 * Encoders by tag, of values this process built and typed itself: they are checked when they are
 * read back, not when they are written. A record whose schema encodes a value as itself (a Raft
 * entry, the hot one: every entry on every node) is its fields as they are; the hard state's one
 * transformation (a default for `commit` when decoding) leaves a present `commit` as it is. Going
 * through the Schema cost ~4 µs per entry and hard state, warm and in isolation (a follower's CPU
 * profile at one client charged it ~65 µs per create).
 */
const fieldsOf = (record: ReplicatorRecord): object => {
  const { _tag, ...fields } = record
  return fields
}
const encoderOf = Object.fromEntries(
  Object.entries(schemaOf).map(([tag, schema]) => {
    if (tag === "HardState" || !transforms(schema.ast)) return [tag, fieldsOf]
    const encode = Schema.encodeSync(schema as unknown as Schema.Schema<ReplicatorRecord, { readonly _tag: string }>)
    return [tag, (record: ReplicatorRecord) => fieldsOf(encode(record) as ReplicatorRecord)]
  })
) as Record<ReplicatorRecord["_tag"], (record: ReplicatorRecord) => object>

export const encodeReplicatorRecord = (record: ReplicatorRecord): WalRecord => ({
  type: ReplicatorRecordType[record._tag],
  payload: packr.pack(encoderOf[record._tag](record))
})

/** Decode a record read back from the log; `position` (its place in the log) names it in errors. */
export const decodeReplicatorRecord = (
  record: WalRecord,
  position: number
): Either.Either<ReplicatorRecord, Corruption> => {
  const corrupt = (why: string) =>
    new Corruption({ message: `write-ahead log record #${position} (type ${record.type}): ${why}` })
  const tag = tagOfType.get(record.type)
  if (tag === undefined) return Either.left(corrupt("unknown record type"))
  let fields: unknown
  try {
    fields = packr.unpack(record.payload)
  } catch (cause) {
    return Either.left(corrupt(`payload is not msgpack (${String(cause)})`))
  }
  if (typeof fields !== "object" || fields === null) return Either.left(corrupt("payload is not a map"))
  const schema = schemaOf[tag] as unknown as Schema.Schema<ReplicatorRecord, unknown>
  return Schema.decodeUnknownEither(schema)({ ...fields, _tag: tag }).pipe(
    Either.mapLeft((error) => corrupt(ParseResult.TreeFormatter.formatErrorSync(error)))
  )
}
