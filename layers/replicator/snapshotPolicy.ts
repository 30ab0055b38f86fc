/**
 * When the Raft replicator compacts its log, and how much it keeps.
 *
 * The metadata store is the snapshot: compacting is making the store's state durable (a flush)
 * and discarding the log behind it, with nothing copied, so its cost does not grow with the
 * namespace. Every `threshold` applied entries the log is compacted up to `catchUpEntries`
 * entries behind the applied index: that margin is what a briefly lagging follower catches up
 * from without a snapshot (etcd: a snapshot every 10,000 entries, 5,000 kept to catch up from).
 * A follower further behind is sent a snapshot encoded from the store when it needs one.
 */
export const DEFAULT_SNAPSHOT_THRESHOLD = 10_000

/** Entries kept behind the applied index at each compaction (default). */
export const DEFAULT_SNAPSHOT_CATCH_UP_ENTRIES = 5_000

export interface CompactionPolicy {
  readonly threshold: number
  readonly catchUpEntries: number
}

/** Whether to compact now, `applied` entries in, the last compaction having been at `lastAt` applied. */
export const compactionDue = (policy: CompactionPolicy, applied: number, lastAt: number): boolean =>
  applied - lastAt >= policy.threshold

/** The index to compact the log up to when `applied` entries are in. */
export const compactionPoint = (policy: CompactionPolicy, applied: number): number =>
  Math.max(0, applied - policy.catchUpEntries)
