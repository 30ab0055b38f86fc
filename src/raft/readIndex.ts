/**
 * ReadIndex bookkeeping on the leader. A read gets a read index (the commit index when its
 * confirmation round starts, at or after the time it was asked) and that round's read context;
 * it is ready once a quorum has answered an AppendEntries that carried the context (so this
 * node was still the leader after the read began). Until the leader has committed an entry of
 * its own term its commit index may be stale, so reads wait for that first.
 *
 * One round at a time, as etcd's server does: reads asked while a round is unconfirmed wait
 * for it, then all of them share the next round (one heartbeat broadcast for the lot instead
 * of one per read). A round whose messages are lost is still confirmed by the next regular
 * heartbeat, which carries the latest context too.
 */
export interface PendingRead {
  readonly id: number
  readonly index: number
  readonly context: number
}

export interface ReadQueue {
  /** Reads asked before the leader committed an entry of its term. */
  awaitingCommit: Array<number>
  /** Reads waiting for a quorum to confirm leadership, in context order. */
  pending: Array<PendingRead>
  /** Reads asked while a round was unconfirmed: they start the next round together. */
  waiting: Array<number>
  /** The latest context handed out; every AppendEntries carries it. */
  context: number
}

export const emptyReadQueue = (): ReadQueue => ({ awaitingCommit: [], pending: [], waiting: [], context: 0 })

/** Take every read out of the queue (when leadership ends): their ids, oldest first. */
export const drainReads = (queue: ReadQueue): Array<number> => {
  const ids = [...queue.pending.map((read) => read.id), ...queue.waiting, ...queue.awaitingCommit]
  queue.pending = []
  queue.waiting = []
  queue.awaitingCommit = []
  return ids
}

/** Whether a confirmation round is unconfirmed: new reads then wait for the next one. */
export const roundInFlight = (queue: ReadQueue): boolean => queue.pending.length > 0

/**
 * Start a round for every waiting read at `commitIndex`; returns false (and changes nothing)
 * if none is waiting. The caller broadcasts the new context.
 */
export const startRound = (queue: ReadQueue, commitIndex: number): boolean => {
  if (queue.waiting.length === 0) return false
  queue.context++
  for (const id of queue.waiting) queue.pending.push({ id, index: commitIndex, context: queue.context })
  queue.waiting = []
  return true
}

/** Remove and return the reads at the head that `isConfirmed` says a quorum has acknowledged. */
export const takeConfirmed = (queue: ReadQueue, isConfirmed: (context: number) => boolean): Array<PendingRead> => {
  let count = 0
  while (count < queue.pending.length && isConfirmed(queue.pending[count]!.context)) count++
  return queue.pending.splice(0, count)
}
