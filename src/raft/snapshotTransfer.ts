/**
 * InstallSnapshot in chunks, both ends. The leader streams a window of chunks and moves its
 * cursor by the follower's answers; the follower accepts only the chunk at the offset it wants
 * next and always answers with that offset, so a lost chunk is resent from exactly there and a
 * transfer survives lost and reordered messages without starting over.
 */
import type { Message, NodeId, Snapshot } from "./types.ts"

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
  readonly data: Uint8Array
  readonly done: boolean
}

/** The next chunk to send within a window of `windowBytes` unacknowledged bytes, advancing the cursor. */
export const nextChunk = (transfer: OutgoingSnapshot, chunkBytes: number, windowBytes: number): Chunk | null => {
  const total = transfer.snapshot.data.byteLength
  if (transfer.exhausted || transfer.sent - transfer.acked >= Math.max(windowBytes, 1)) return null
  const offset = transfer.sent
  const end = Math.min(total, offset + Math.max(1, chunkBytes))
  const done = end >= total
  transfer.sent = end
  transfer.exhausted = done
  return { offset, data: transfer.snapshot.data.subarray(offset, end), done }
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

/** The follower's side: the chunks of one snapshot received so far, in order. */
export interface IncomingSnapshot {
  readonly from: NodeId
  readonly leaderTerm: number
  readonly index: number
  readonly term: number
  readonly totalBytes: number
  readonly chunks: Array<Uint8Array>
  received: number
}

type InstallSnapshot = Extract<Message, { _tag: "InstallSnapshot" }>

/**
 * Take one chunk. A chunk of another transfer (other leader, term or snapshot) discards the
 * partial copy; only offset 0 starts one. Returns the partial copy to keep and, once the last
 * byte arrived, the assembled data.
 */
export const receiveChunk = (
  incoming: IncomingSnapshot | null,
  message: InstallSnapshot
): { readonly incoming: IncomingSnapshot | null; readonly complete: Uint8Array | null } => {
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
      chunks: [],
      received: 0
    }
  }
  if (current === null) return { incoming: null, complete: null }
  const fits = message.offset + message.data.byteLength <= current.totalBytes
  if (message.offset === current.received && fits && current.received < current.totalBytes) {
    // Copy: the message's buffer may be reused by the transport.
    current.chunks.push(message.data.slice())
    current.received += message.data.byteLength
  }
  if (current.received < current.totalBytes) return { incoming: current, complete: null }
  const data = new Uint8Array(current.totalBytes)
  let at = 0
  for (const chunk of current.chunks) {
    data.set(chunk, at)
    at += chunk.byteLength
  }
  return { incoming: null, complete: data }
}
