/**
 * The Raft replicator's write-ahead log: its records, and its recovery after a restart into
 * what the core starts from (hard state, latest snapshot, the entries after it), with the
 * metadata store brought up to the snapshot first.
 *
 * One append holds the hard state followed by the entries of a driver turn. A crash can tear
 * it anywhere, so recovery repairs the two ways a torn turn can contradict itself: a commit
 * index beyond the entries that survived is lowered to the last entry, and entries of a term
 * whose hard state was lost raise the term (with no vote: nothing of that term was ever sent,
 * because messages leave only after the whole turn is durable).
 */
import { Effect } from "effect"
import { encodeReplicatorRecord } from "../../src/raft/walRecords.ts"
import type { Entry, HardState, Recovered, Snapshot } from "../../src/raft/types.ts"
import type { MetadataServiceShape, StoreError } from "../../src/services/MetadataService.ts"
import type { SnapshotStoreShape } from "../../src/services/SnapshotStore.ts"
import type { WalRecord } from "../../src/services/WriteAheadLog.ts"
import { catchUpToSnapshot, holdsSnapshot, lastLogIndex, readLog } from "./logRecovery.ts"

export const entryRecord = (entry: Entry): WalRecord =>
  encodeReplicatorRecord({ _tag: "RaftEntry", index: entry.index, term: entry.term, type: entry.type, data: entry.data })

export const hardStateRecord = (hardState: HardState): WalRecord =>
  encodeReplicatorRecord({
    _tag: "HardState",
    term: hardState.term,
    votedFor: hardState.votedFor,
    commit: hardState.commit
  })

/** A snapshot received from the leader, durable in the SnapshotStore before this record is written. */
export const snapshotFileRecord = (snapshot: Snapshot): WalRecord =>
  encodeReplicatorRecord({ _tag: "SnapshotFile", index: snapshot.index, term: snapshot.term, size: snapshot.size })

/** Where the log was compacted, the state up to there being durable in the metadata store. */
export const snapshotMarkRecord = (at: { readonly index: number; readonly term: number }): WalRecord =>
  encodeReplicatorRecord({ _tag: "SnapshotMark", index: at.index, term: at.term })

/** A compacted log: the hard state, what heads it (a snapshot or a mark), and the entries the core still holds after it. */
export const compactedLog = (hardState: HardState, head: WalRecord, entries: ReadonlyArray<Entry>): Array<WalRecord> => [
  hardStateRecord(hardState),
  head,
  ...entries.map(entryRecord)
]

export interface RaftBoot {
  readonly recovered: Recovered
  /** The store's applied index after catching up to the snapshot: the core starts from it. */
  readonly applied: number
}

export const recoverRaftLog = (
  records: ReadonlyArray<WalRecord>,
  metadata: MetadataServiceShape,
  snapshots: SnapshotStoreShape
): Effect.Effect<RaftBoot, StoreError> =>
  Effect.gen(function*() {
    const log = yield* readLog(records, "RaftEntry")
    const applied = yield* catchUpToSnapshot(metadata, log, snapshots)
    const entries: Array<Entry> = log.entries.map(({ data, index, term, type }) => ({ index, term, type, data }))
    const head = log.snapshot
    // The store holds the state at the head now (restored above if it was behind). A snapshot
    // file kept for it can also be sent to followers; without one (a snapshot inside the log, as
    // earlier versions wrote it, or a file gone) the store's durable state stands for it, as
    // after any compaction: a mark, rewritten as one at the next compaction.
    const onDisk = head?._tag === "SnapshotFile" && holdsSnapshot(snapshots, head)
    const snapshot: Snapshot | null = onDisk ? { index: head.index, term: head.term, size: head.size } : null
    if (head !== undefined && head._tag !== "SnapshotMark" && !onDisk) yield* metadata.flush
    const compactedTo = head !== undefined && snapshot === null ? { index: head.index, term: head.term } : undefined
    const last = lastLogIndex(log)
    const lastTerm = entries[entries.length - 1]?.term ?? log.snapshot?.term ?? 0
    const stored = log.hardState
    const term = Math.max(stored?.term ?? 0, lastTerm)
    const hardState: HardState = {
      term,
      votedFor: stored !== undefined && stored.term === term ? stored.votedFor : null,
      // Everything applied was committed; a commit index past the surviving log was torn off with it.
      commit: Math.max(Math.min(stored?.commit ?? 0, last), applied, log.snapshot?.index ?? 0)
    }
    return { recovered: { hardState, snapshot, entries, ...(compactedTo === undefined ? {} : { compactedTo }) }, applied }
  })
