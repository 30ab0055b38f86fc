/**
 * The Raft log as the core holds it in memory: a snapshot base (index, term) followed by the
 * entries after it, plus the marks that say how far the layer has got with them. Entries above
 * `stable` were handed to the layer to persist but it has not yet reported them durable.
 *
 * Invariants: snapshotIndex <= applied <= applying <= commit <= lastIndex, stable <= lastIndex,
 * and entries[k].index === snapshotIndex + 1 + k.
 */
import type { Entry, Snapshot } from "./types.ts"

export interface RaftLog {
  snapshotIndex: number
  snapshotTerm: number
  entries: Array<Entry>
  /** Highest index the layer reported durable (`Persisted`). */
  stable: number
  /** Highest index known to be committed. */
  commit: number
  /** Highest index handed to the layer for apply. */
  applying: number
  /** Highest index the layer reported applied. */
  applied: number
  /** Writes (one per Output with entries) not yet reported durable, oldest first. */
  pendingWrites: Array<PendingWrite>
}

/** One Output's entries: from `from` up to the entry (index, term) the layer will report. */
export interface PendingWrite {
  readonly from: number
  readonly index: number
  readonly term: number
}

export const lastIndex = (log: RaftLog): number => log.snapshotIndex + log.entries.length

export const firstIndex = (log: RaftLog): number => log.snapshotIndex + 1

/** The term of the entry at `index`, or undefined when it is compacted away or not there yet. */
export const termAt = (log: RaftLog, index: number): number | undefined => {
  if (index === log.snapshotIndex) return log.snapshotTerm
  if (index < log.snapshotIndex || index > lastIndex(log)) return undefined
  return log.entries[index - log.snapshotIndex - 1]!.term
}

export const lastTerm = (log: RaftLog): number => termAt(log, lastIndex(log))!

/** Raft's "at least as up to date" rule for granting votes (§5.4.1). */
export const isUpToDate = (log: RaftLog, index: number, term: number): boolean => {
  const ownTerm = lastTerm(log)
  return term > ownTerm || (term === ownTerm && index >= lastIndex(log))
}

/** The entries in [from, to]; `from` must not be compacted. */
export const entriesBetween = (log: RaftLog, from: number, to: number): Array<Entry> =>
  from > to ? [] : log.entries.slice(from - log.snapshotIndex - 1, to - log.snapshotIndex)

/**
 * The entries from `from` that fit in one message: at most `maxCount`, and at most `maxBytes`
 * of payload except that the first entry always goes (a message must make progress).
 */
export const entriesForMessage = (log: RaftLog, from: number, maxCount: number, maxBytes: number): Array<Entry> => {
  const out: Array<Entry> = []
  let bytes = 0
  for (let index = from; index <= lastIndex(log) && out.length < maxCount; index++) {
    const entry = log.entries[index - log.snapshotIndex - 1]!
    bytes += entry.data.byteLength
    if (out.length > 0 && bytes > maxBytes) break
    out.push(entry)
  }
  return out
}

/** Append after the current last entry (the leader's path). */
export const append = (log: RaftLog, entries: ReadonlyArray<Entry>): void => {
  for (const entry of entries) log.entries.push(entry)
}

/**
 * Replace everything at or after `entries[0].index` with `entries` (a follower repairing its
 * tail). What is replaced can no longer be reported durable, so `stable` drops below it.
 */
export const truncateAndAppend = (log: RaftLog, entries: ReadonlyArray<Entry>): void => {
  const from = entries[0]!.index
  log.entries.length = from - log.snapshotIndex - 1
  append(log, entries)
  log.stable = Math.min(log.stable, from - 1)
}

/**
 * The largest index <= `index` whose term is <= `term`, with that term: the point below which
 * two logs may still agree, given that one of them has `term` at `index`. Skips a whole term
 * per step instead of one entry. When the answer is below the snapshot the term is unknown:
 * the result is then an index below the snapshot with term 0.
 */
export const findConflictByTerm = (log: RaftLog, index: number, term: number): { index: number; term: number } => {
  for (let i = Math.min(index, lastIndex(log)); i >= log.snapshotIndex; i--) {
    const t = termAt(log, i)!
    if (t <= term) return { index: i, term: t }
  }
  return { index: Math.max(0, Math.min(index, log.snapshotIndex - 1)), term: 0 }
}

/** Discard the prefix up to `to.index`, which must be in the log with `to.term`. */
export const compact = (log: RaftLog, to: { readonly index: number; readonly term: number }): void => {
  log.entries = log.entries.slice(to.index - log.snapshotIndex)
  log.snapshotIndex = to.index
  log.snapshotTerm = to.term
}

/** The entries from `from` to the last one were handed to the layer to persist. */
export const recordWrite = (log: RaftLog, from: number): void => {
  const index = lastIndex(log)
  log.pendingWrites.push({ from, index, term: termAt(log, index)! })
}

/**
 * The layer reports the write ending at (index, term) durable, and with it every earlier one.
 * Writes are matched oldest first, so an old report cannot vouch for a later write that put
 * the same (index, term) back after a different entry replaced it. Entries a still-pending
 * write replaces are not durable in their current form, so `stable` stops below those.
 */
export const markPersisted = (log: RaftLog, index: number, term: number): boolean => {
  const at = log.pendingWrites.findIndex((write) => write.index === index && write.term === term)
  if (at < 0) return false
  log.pendingWrites.splice(0, at + 1)
  let stable = Math.min(index, lastIndex(log))
  for (const write of log.pendingWrites) stable = Math.min(stable, write.from - 1)
  if (stable <= log.stable) return false
  log.stable = stable
  return true
}

/** Replace the whole log by a snapshot received from the leader: it is committed and applied by definition. */
export const restore = (log: RaftLog, snapshot: Snapshot): void => {
  log.entries = []
  log.snapshotIndex = snapshot.index
  log.snapshotTerm = snapshot.term
  log.stable = snapshot.index
  log.commit = snapshot.index
  log.applying = snapshot.index
  log.applied = snapshot.index
  // Earlier writes are superseded: whatever the layer reports about them no longer describes this log.
  log.pendingWrites = []
}
