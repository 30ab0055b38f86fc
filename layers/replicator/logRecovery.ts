/**
 * Reading a replicator's write-ahead log back after a restart, shared by the single-node and
 * the Raft replicator: the latest hard state, the latest snapshot and the consecutive entries
 * after it (a later entry at an index already present replaces it and everything after it),
 * and bringing the metadata store up to the snapshot without ever moving it backwards.
 */
import { Effect } from "effect"
import { Corruption } from "../../src/domain/errors.ts"
import {
  decodeReplicatorRecord, type EntryRecord, type HardStateRecord, type RaftEntryRecord, type SnapshotFileRecord,
  type SnapshotMarkRecord, type SnapshotRecord
} from "../../src/raft/walRecords.ts"
import {
  bytesSource, type MetadataServiceShape, type SnapshotSource, type StoreError
} from "../../src/services/MetadataService.ts"
import type { SnapshotFile, SnapshotStoreShape } from "../../src/services/SnapshotStore.ts"
import type { WalRecord } from "../../src/services/WriteAheadLog.ts"

/** The entry records of one replicator kind: the single-node replicator's or Raft's. */
export type EntryKind = "Entry" | "RaftEntry"
type EntryOf<K extends EntryKind> = K extends "Entry" ? EntryRecord : RaftEntryRecord

export type SnapshotHead = SnapshotRecord | SnapshotFileRecord | SnapshotMarkRecord

/** Whether the store found `file` (its position and size) when it opened. */
export const holdsSnapshot = (snapshots: SnapshotStoreShape | undefined, file: SnapshotFile): boolean =>
  snapshots?.recovered.some((found) => found.index === file.index && found.term === file.term && found.size === file.size) ??
    false

/** A committed snapshot file read by range, to restore the store from. */
export const fileSource = (snapshots: SnapshotStoreShape, file: SnapshotFile): SnapshotSource => ({
  size: file.size,
  read: (offset, length) => snapshots.read(file, offset, length)
})

export interface RecoveredLog<E> {
  readonly hardState: HardStateRecord | undefined
  /**
   * What heads the log: a snapshot (in a snapshot file, or inside the log as earlier versions
   * wrote it), or a mark saying the store holds the state at its index.
   */
  readonly snapshot: SnapshotHead | undefined
  /** Consecutive entries after the snapshot. */
  readonly entries: ReadonlyArray<E>
}

/**
 * Rebuild the log from the WAL's records. Entries of the other replicator kind mean the log
 * belongs to a differently configured node: Corruption, never a silent reinterpretation.
 */
export const readLog = <K extends EntryKind>(
  records: ReadonlyArray<WalRecord>,
  kind: K
): Effect.Effect<RecoveredLog<EntryOf<K>>, Corruption> =>
  Effect.gen(function*() {
    let hardState: HardStateRecord | undefined
    let snapshot: SnapshotHead | undefined
    let entries: Array<EntryOf<K>> = []
    for (const [position, raw] of records.entries()) {
      const record = yield* decodeReplicatorRecord(raw, position)
      switch (record._tag) {
        case "HardState":
          hardState = record
          break
        case "Snapshot":
        case "SnapshotFile":
        case "SnapshotMark": {
          const base = record.index
          snapshot = record
          entries = entries.filter((entry) => entry.index > base)
          break
        }
        case "Entry":
        case "RaftEntry": {
          if (record._tag !== kind) {
            return yield* new Corruption({
              message: `write-ahead log record #${position} is a ${record._tag} record, ` +
                `but this log belongs to a replicator that writes ${kind} records`
            })
          }
          const entry = record as EntryOf<K>
          const base = snapshot?.index ?? 0
          if (entry.index <= base) break
          const expected = (entries[entries.length - 1]?.index ?? base) + 1
          if (entry.index > expected) {
            return yield* new Corruption({
              message: `write-ahead log jumps from index ${expected - 1} to ${entry.index} (record #${position})`
            })
          }
          // An entry at an index already present replaces it and everything after it.
          if (entry.index < expected) entries = entries.filter((kept) => kept.index < entry.index)
          entries.push(entry)
          break
        }
      }
    }
    return { hardState, snapshot, entries }
  })

/** The index of the last entry of `log` (the snapshot's when it has no entries after it). */
export const lastLogIndex = <E extends { readonly index: number }>(log: RecoveredLog<E>): number =>
  log.entries[log.entries.length - 1]?.index ?? log.snapshot?.index ?? 0

/**
 * Restore the log's snapshot into the store if the store is behind it (a mark has nothing to
 * restore from: a store behind it is damaged), and check that the
 * store is not ahead of the log (new entries would reuse indices the store treats as applied,
 * and their effects would vanish). Returns the store's applied index. A log headed by a
 * snapshot file needs `snapshots`, where that file is.
 */
export const catchUpToSnapshot = <E extends { readonly index: number }>(
  metadata: MetadataServiceShape,
  log: RecoveredLog<E>,
  snapshots?: SnapshotStoreShape
): Effect.Effect<number, StoreError> =>
  Effect.gen(function*() {
    let applied = yield* metadata.appliedIndex
    if (log.snapshot?._tag === "SnapshotMark" && applied < log.snapshot.index) {
      return yield* new Corruption({
        message: `metadata store has applied index ${applied}, behind the write-ahead log, compacted at ${log.snapshot.index} ` +
          `once the store had made that state durable: the store lost durable writes (rebuild this node: sandstore rebuild)`
      })
    }
    const head = log.snapshot
    if (head !== undefined && head._tag !== "SnapshotMark" && applied < head.index) {
      if (head._tag === "SnapshotFile" && !holdsSnapshot(snapshots, head)) {
        return yield* new Corruption({
          message: `metadata store has applied index ${applied}, behind the snapshot at ${head.index} (term ${head.term}) ` +
            `the write-ahead log starts from, and that snapshot's file is missing (rebuild this node: sandstore rebuild)`
        })
      }
      yield* metadata.restore(head._tag === "Snapshot" ? bytesSource(head.data) : fileSource(snapshots!, head))
      applied = yield* metadata.appliedIndex
      if (applied !== head.index) {
        return yield* new Corruption({
          message: `snapshot at log index ${head.index} restored a store at applied index ${applied}`
        })
      }
    }
    const last = lastLogIndex(log)
    if (applied > last) {
      return yield* new Corruption({
        message: `metadata store has applied index ${applied}, beyond the write-ahead log's last index ${last}`
      })
    }
    return applied
  })
