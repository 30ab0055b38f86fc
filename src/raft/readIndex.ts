/**
 * ReadIndex bookkeeping on the leader. A read gets the commit index at the time it is asked
 * and a read context; it is ready once a quorum has answered an AppendEntries that carried
 * that context (so this node was still the leader after the read began). Until the leader has
 * committed an entry of its own term its commit index may be stale, so reads wait for that
 * first.
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
  /** The latest context handed out; every AppendEntries carries it. */
  context: number
}

export const emptyReadQueue = (): ReadQueue => ({ awaitingCommit: [], pending: [], context: 0 })

/** Take every read out of the queue (when leadership ends): their ids, oldest first. */
export const drainReads = (queue: ReadQueue): Array<number> => {
  const ids = [...queue.pending.map((read) => read.id), ...queue.awaitingCommit]
  queue.pending = []
  queue.awaitingCommit = []
  return ids
}

/** Remove and return the reads at the head that `isConfirmed` says a quorum has acknowledged. */
export const takeConfirmed = (queue: ReadQueue, isConfirmed: (context: number) => boolean): Array<PendingRead> => {
  let count = 0
  while (count < queue.pending.length && isConfirmed(queue.pending[count]!.context)) count++
  return queue.pending.splice(0, count)
}
