/**
 * MetadataService: the filesystem namespace as a deterministic state machine over a store.
 * `apply` is the only way state changes; it is fed committed log entries in index order by a
 * MetadataReplicator. The applied index is stored in the same atomic batch as each change, so
 * re-applying an entry at or below `appliedIndex` is a no-op (it returns the stored outcome
 * when the entry served a client request, else `Ok(null)`). Namespace errors are outcomes, not
 * failures: an entry that fails EEXIST is still applied. Each client request applies at most
 * once: the state machine keeps client sessions and the outcomes of their unacknowledged
 * requests (see layers/metadata/sessions.ts). Queries read the applied state.
 */
import { Context, Effect } from "effect"
import type { CommandOutcome, LogEntry, RequestTag } from "../domain/commands.ts"
import type {
  Corruption, InvalidArgument, IoError, IsADirectory, NotADirectory, NotFound, PermissionDenied, SessionExpired
} from "../domain/errors.ts"
import type { Attributes, ChunkRef, FsStat, InodeId, ReaddirPage, ReaddirPlusPage } from "../domain/fs.ts"
import type { SessionId } from "../domain/session.ts"

export type StoreError = IoError | Corruption

/** A regular file's attributes and chunk map, read from one consistent state. */
export interface FileLayout {
  readonly attributes: Attributes
  readonly chunks: ReadonlyArray<ChunkRef>
}

/** Where a chunk is in the walk over all chunks. */
export interface ChunkPosition {
  readonly inode: number
  readonly index: number
}

export interface MetadataServiceShape {
  /** Apply the committed entry at `index` (indices strictly increase; lower ones are no-ops). */
  readonly apply: (index: number, entry: LogEntry) => Effect.Effect<CommandOutcome, StoreError>
  /**
   * Apply consecutive committed entries, in order, as `apply` would one by one, but store them
   * in one atomic write (a crash keeps all of them or none): the outcome of each, in order.
   *
   * `onDecided` may be called with those outcomes as soon as they are decided, before the
   * write that stores them lands: they are final already (the entries are committed, and
   * applying them again after a crash decides the same), so a proposer can be answered then.
   * What reads the store must still wait for the returned effect.
   */
  readonly applyAll: (
    entries: ReadonlyArray<{ readonly index: number; readonly entry: LogEntry }>,
    onDecided?: (outcomes: ReadonlyArray<CommandOutcome>) => void
  ) => Effect.Effect<Array<CommandOutcome>, StoreError>
  /** The index of the last applied entry (0 for a fresh store). */
  readonly appliedIndex: Effect.Effect<number, StoreError>
  /** The state machine's clock: the latest time of any entry it applied (0 for a fresh store). */
  readonly clock: Effect.Effect<number, StoreError>
  /** Client session `id`: when it was last active (state clock) and below which request it has all answers; undefined when not open. */
  readonly session: (
    id: SessionId
  ) => Effect.Effect<{ readonly lastActive: number; readonly ackedBelow: number } | undefined, StoreError>

  readonly getattr: (inode: InodeId) => Effect.Effect<Attributes, NotFound | StoreError>
  readonly lookup: (
    parent: InodeId,
    name: string
  ) => Effect.Effect<Attributes, NotFound | NotADirectory | InvalidArgument | StoreError>
  /** Resolve an absolute path; `.` and `..` resolve as in POSIX (`..` of the root is the root). */
  readonly lookupPath: (path: string) => Effect.Effect<Attributes, NotFound | NotADirectory | InvalidArgument | StoreError>
  /** access(2): succeeds when uid/gid may access with `mask` (R_OK|W_OK|X_OK); uid 0 may do anything but X on non-executables. */
  readonly access: (
    inode: InodeId,
    uid: number,
    gid: number,
    mask: number
  ) => Effect.Effect<void, NotFound | PermissionDenied | InvalidArgument | StoreError>
  /** Entries in name order after `cookie` (a name; null from the start), at most `max`. */
  readonly readdir: (
    inode: InodeId,
    cookie: string | null,
    max: number
  ) => Effect.Effect<ReaddirPage, NotFound | NotADirectory | InvalidArgument | StoreError>
  readonly readdirplus: (
    inode: InodeId,
    cookie: string | null,
    max: number
  ) => Effect.Effect<ReaddirPlusPage, NotFound | NotADirectory | InvalidArgument | StoreError>
  /** A regular file's attributes and chunk map, read from one consistent state. */
  readonly layout: (
    inode: InodeId
  ) => Effect.Effect<FileLayout, NotFound | IsADirectory | StoreError>
  /** The regular file at `path`: its attributes and chunk map, resolved and read from one consistent state. */
  readonly pathLayout: (
    path: string
  ) => Effect.Effect<FileLayout, NotFound | NotADirectory | InvalidArgument | IsADirectory | StoreError>
  /**
   * What a write serving `request` to `inode` plans against: the outcome recorded for the
   * request if it was already carried out (a resend must not be planned and applied again),
   * SessionExpired if its session is not open (whether it applied cannot be told then), else
   * the file's layout; all from one consistent state.
   */
  readonly writeLayout: (
    inode: InodeId,
    request: RequestTag | null
  ) => Effect.Effect<
    | { readonly _tag: "Recorded"; readonly outcome: CommandOutcome }
    | ({ readonly _tag: "Layout" } & FileLayout),
    NotFound | IsADirectory | SessionExpired | StoreError
  >
  /** The chunk map of a regular file, ordered by index (holes are absent indices). */
  readonly chunks: (inode: InodeId) => Effect.Effect<ReadonlyArray<ChunkRef>, NotFound | IsADirectory | StoreError>
  readonly fsstat: Effect.Effect<FsStat, StoreError>
  /**
   * Up to `max` chunks of all files, in (inode, index) order, starting after `after` (from the
   * first when null): the pages of a walk over every chunk, for work on all replicas.
   */
  readonly chunkPage: (
    after: ChunkPosition | null,
    max: number
  ) => Effect.Effect<ReadonlyArray<{ readonly inode: InodeId; readonly chunk: ChunkRef }>, StoreError>
  /** Chunk versions no longer referenced by any file (removed, overwritten, truncated away), oldest first. */
  readonly garbage: (max: number) => Effect.Effect<ReadonlyArray<ChunkRef>, StoreError>
  /**
   * The whole state (namespace, chunk maps, dedup table, garbage, applied index) as bytes, handed
   * to `write` a page at a time, in order, from one consistent read view (applies go on
   * meanwhile): the snapshot is never held whole in memory. Returns the applied index it
   * captured and the bytes written.
   */
  readonly snapshot: (
    write: (bytes: Uint8Array) => Effect.Effect<void, IoError>
  ) => Effect.Effect<{ readonly appliedIndex: number; readonly size: number }, StoreError>
  /**
   * Make the state applied so far durable (applies write without waiting for the disk): once it
   * returns, a restart finds at least this state, so the log behind it may be compacted away.
   */
  readonly flush: Effect.Effect<void, StoreError>
  /**
   * Replace the whole state with a snapshot's, read from `source` a page at a time. A damaged
   * snapshot (bad checksum, bad framing) fails with Corruption and changes nothing. A crash
   * midway leaves a store that reopens empty (applied index 0), so the restore is simply done
   * again from the snapshot, which the replicator keeps until the store holds its state durably.
   */
  readonly restore: (source: SnapshotSource) => Effect.Effect<void, StoreError>
}

/** Snapshot bytes to restore from, read by range (a file, or bytes in memory). */
export interface SnapshotSource {
  readonly size: number
  /** `length` bytes from `offset` (fewer only where the snapshot ends). */
  readonly read: (offset: number, length: number) => Effect.Effect<Uint8Array, IoError>
}

/** A SnapshotSource over bytes in memory (tests, and snapshots written inside old WAL records). */
export const bytesSource = (data: Uint8Array): SnapshotSource => ({
  size: data.byteLength,
  read: (offset, length) => Effect.succeed(data.subarray(offset, Math.min(data.byteLength, offset + length)))
})

export class MetadataService extends Context.Tag("sandstore/MetadataService")<MetadataService, MetadataServiceShape>() {}

/**
 * `applyAll` by way of a per-entry `apply`, one entry after another: for wrappers that change
 * what one entry does (planted bugs), at the cost of one store write per entry.
 */
export const applyOneByOne = (apply: MetadataServiceShape["apply"]): MetadataServiceShape["applyAll"] => (entries) =>
  Effect.forEach(entries, ({ entry, index }) => apply(index, entry))
