/**
 * The leader's view of one follower, as etcd's Progress: how far its log matches, where to
 * send next, and which of three modes replication is in.
 * - probe: the match point is unknown; one AppendEntries at a time until one succeeds.
 * - replicate: the follower is caught up to `match`; AppendEntries are pipelined, up to
 *   maxInflight unacknowledged messages, advancing `next` optimistically.
 * - snapshot: the entries the follower needs are compacted; a snapshot is streaming.
 */
import type { OutgoingSnapshot } from "./snapshotTransfer.ts"

export type ReplicationMode = "probe" | "replicate" | "snapshot"

export interface Progress {
  match: number
  next: number
  mode: ReplicationMode
  /** probe: a probe is outstanding, wait for an answer (or the next heartbeat). */
  probeSent: boolean
  /** replicate: the last index of each unacknowledged AppendEntries, oldest first. */
  inflight: Array<number>
  /** `match` at the previous heartbeat, to notice a pipeline that stopped moving. */
  matchAtLastBeat: number
  /** Heard from in the current check-quorum period. */
  recentActive: boolean
  /** Heard from in the previous check-quorum period (so: within the last one to two election timeouts). */
  activeLastPeriod: boolean
  /** Highest readContext this follower echoed back in the current term. */
  readAck: number
  transfer: OutgoingSnapshot | null
}

export const newProgress = (next: number): Progress => ({
  match: 0,
  next,
  mode: "probe",
  probeSent: false,
  inflight: [],
  matchAtLastBeat: 0,
  recentActive: false,
  activeLastPeriod: false,
  readAck: 0,
  transfer: null
})

export const becomeProbe = (progress: Progress, next: number): void => {
  progress.mode = "probe"
  progress.next = Math.max(progress.match + 1, next)
  progress.probeSent = false
  progress.inflight = []
  progress.transfer = null
}

export const becomeReplicate = (progress: Progress): void => {
  progress.mode = "replicate"
  progress.next = progress.match + 1
  progress.probeSent = false
  progress.inflight = []
  progress.transfer = null
}

export const becomeSnapshot = (progress: Progress, transfer: OutgoingSnapshot): void => {
  progress.mode = "snapshot"
  progress.probeSent = false
  progress.inflight = []
  progress.transfer = transfer
}

/** Record an acknowledged match; false if it is not news (a stale or duplicate answer). */
export const advanceMatch = (progress: Progress, index: number): boolean => {
  if (index <= progress.match) return false
  progress.match = index
  progress.next = Math.max(progress.next, index + 1)
  while (progress.inflight.length > 0 && progress.inflight[0]! <= index) progress.inflight.shift()
  return true
}

/** No AppendEntries may go to this follower right now. */
export const isPaused = (progress: Progress, maxInflight: number): boolean => {
  switch (progress.mode) {
    case "probe":
      return progress.probeSent
    case "replicate":
      return progress.inflight.length >= Math.max(1, maxInflight)
    case "snapshot":
      return true
  }
}
