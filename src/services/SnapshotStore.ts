/**
 * SnapshotStore: the Raft snapshots a node keeps, each written once, front to back, and named
 * by the log position it covers. A leader encodes its state machine into one to send followers
 * that are behind its log, and reads it back chunk by chunk as it sends; a follower writes the
 * leader's chunks into one as they arrive and restores its state machine from it page by page.
 * No snapshot is ever held whole in memory, however large the namespace (etcd keeps its
 * snapshots in files for the same reason). A committed snapshot survives a crash; a partial
 * one never becomes visible.
 */
import { Context, type Effect } from "effect"
import type { IoError } from "../domain/errors.ts"

/** A committed snapshot: the state machine after applying everything up to `index` (of `term`), in `size` bytes. */
export interface SnapshotFile {
  readonly index: number
  readonly term: number
  readonly size: number
}

/** A snapshot being written. Nothing of it is visible until `commit`. */
export interface SnapshotWriter {
  /** Append `bytes` (the writer may keep a reference until the next call returns: do not reuse them before). */
  readonly write: (bytes: Uint8Array) => Effect.Effect<void, IoError>
  /**
   * Make everything written durable and visible as the snapshot at (`index`, `term`), replacing
   * one already committed there. The writer is finished afterwards.
   */
  readonly commit: (index: number, term: number) => Effect.Effect<SnapshotFile, IoError>
  /** Throw the partial snapshot away (nothing happens after commit or a second abort). */
  readonly abort: Effect.Effect<void>
}

export interface SnapshotStoreShape {
  /** The committed snapshots found when the store was opened, by index; partial ones were deleted. */
  readonly recovered: ReadonlyArray<SnapshotFile>
  /** Start writing a snapshot. */
  readonly create: Effect.Effect<SnapshotWriter, IoError>
  /**
   * `length` bytes of a committed snapshot from `offset` (fewer only where it ends). IoError if it
   * is not there (deleted meanwhile) or shorter than `snapshot.size`.
   */
  readonly read: (snapshot: SnapshotFile, offset: number, length: number) => Effect.Effect<Uint8Array, IoError>
  /** Delete every committed snapshot but those at the positions of `keep`. */
  readonly retain: (keep: ReadonlyArray<SnapshotFile>) => Effect.Effect<void, IoError>
}

export class SnapshotStore extends Context.Tag("sandstore/SnapshotStore")<SnapshotStore, SnapshotStoreShape>() {}
