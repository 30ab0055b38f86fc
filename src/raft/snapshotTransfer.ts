/**
 * InstallSnapshot in chunks, both ends. The leader streams a window of chunks and moves its
 * cursor by the follower's answers; the follower accepts only the chunk at the offset it wants
 * next and always answers with that offset, so a lost chunk is resent from exactly there and a
 * transfer survives lost and reordered messages without starting over.
 */
import type { Message, NodeId, Snapshot, SnapshotChunk } from "./types.ts"

/** The leader's side: one snapshot being streamed to one follower. */
export interface OutgoingSnapshot {
  readonly snapshot: Snapshot
  /** Bytes the follower confirmed it holds. */
  acked: number
  /** Offset of the next chunk to send. */
  sent: number
  /** The final chunk has been sent since the cursor last moved back. */
  exhausted: boolean
  /** `acked` at the previous heartbeat: unchanged over a whole heartbeat means a chunk was lost. */
  ackedAtLastBeat: number
}

export const startOutgoing = (snapshot: Snapshot): OutgoingSnapshot => ({
  snapshot,
  acked: 0,
  sent: 0,
  exhausted: false,
  ackedAtLastBeat: -1
})

export interface Chunk {
  readonly offset: number
  readonly done: boolean
}

/** Where the chunk starting at `offset` ends: the layer reads exactly these bytes to send it. */
export const chunkEnd = (offset: number, totalBytes: number, chunkBytes: number): number =>
  Math.min(totalBytes, offset + Math.max(1, chunkBytes))

/** The next chunk to send within a window of `windowBytes` unacknowledged bytes, advancing the cursor. */
export const nextChunk = (transfer: OutgoingSnapshot, chunkBytes: number, windowBytes: number): Chunk | null => {
  const total = transfer.snapshot.size
  if (transfer.exhausted || transfer.sent - transfer.acked >= Math.max(windowBytes, 1)) return null
  const offset = transfer.sent
  const end = chunkEnd(offset, total, chunkBytes)
  const done = end >= total
  transfer.sent = end
  transfer.exhausted = done
  return { offset, done }
}

/**
 * Take the follower's answer: it holds everything before `nextOffset`. Progress moves the
 * acknowledged mark (chunks beyond it stay in flight); an answer below the mark means the
 * follower lost its partial copy (or the answer is old): resend from there. True if the
 * cursor moved, so more chunks may go.
 */
export const resumeAt = (transfer: OutgoingSnapshot, nextOffset: number): boolean => {
  if (nextOffset === transfer.acked) return false
  if (nextOffset < transfer.acked) {
    transfer.sent = nextOffset
    transfer.exhausted = false
  }
  transfer.acked = nextOffset
  if (transfer.sent < nextOffset) transfer.sent = nextOffset
  return true
}

/** Resend from the acknowledged offset (a heartbeat passed without progress). */
export const rewind = (transfer: OutgoingSnapshot): void => {
  transfer.sent = transfer.acked
  transfer.exhausted = false
}

/**
 * The follower's side: how much of one snapshot has arrived, in order. The bytes themselves go
 * to the layer (Output.snapshotChunks), which keeps them where the snapshot will live.
 */
export interface IncomingSnapshot {
  readonly from: NodeId
  readonly leaderTerm: number
  readonly index: number
  readonly term: number
  readonly totalBytes: number
  received: number
}

type InstallSnapshot = Extract<Message, { _tag: "InstallSnapshot" }>

export interface Received {
  /** The transfer to keep following (null: none, or it just completed). */
  readonly incoming: IncomingSnapshot | null
  /** The chunk taken, for the layer to write: the next bytes of `incoming`'s snapshot. */
  readonly accepted: SnapshotChunk | null
  /** The last byte arrived with this chunk. */
  readonly complete: boolean
}

/**
 * Take one chunk. A chunk of another transfer (other leader, term or snapshot) discards the
 * partial copy; only offset 0 starts one. A chunk is taken only at the offset wanted next.
 */
export const receiveChunk = (incoming: IncomingSnapshot | null, message: InstallSnapshot): Received => {
  const sameTransfer = incoming !== null &&
    incoming.from === message.from &&
    incoming.leaderTerm === message.term &&
    incoming.index === message.snapshotIndex &&
    incoming.term === message.snapshotTerm &&
    incoming.totalBytes === message.totalBytes
  let current = sameTransfer ? incoming : null
  if (current === null && message.offset === 0) {
    current = {
      from: message.from,
      leaderTerm: message.term,
      index: message.snapshotIndex,
      term: message.snapshotTerm,
      totalBytes: message.totalBytes,
      received: 0
    }
  }
  if (current === null) return { incoming: null, accepted: null, complete: false }
  const fits = message.offset + message.data.byteLength <= current.totalBytes
  let accepted: SnapshotChunk | null = null
  if (message.offset === current.received && fits && message.data.byteLength > 0) {
    current.received += message.data.byteLength
    accepted = {
      index: current.index,
      term: current.term,
      offset: message.offset,
      data: message.data,
      totalBytes: current.totalBytes,
      last: current.received >= current.totalBytes,
      install: false
    }
  }
  const complete = current.received >= current.totalBytes
  return { incoming: complete ? null : current, accepted, complete }
}
