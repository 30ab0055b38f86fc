/**
 * The callers waiting on the Raft replicator, from their request to its outcome: proposal
 * batches on their way to the core, proposals the leader appended (answered when their index
 * is applied, with the outcome the state machine gave that index), and linearizable reads
 * (released once the state machine has applied their read index).
 *
 * Whether a proposal committed is decided only by what commits at its index: an entry of
 * another term there means it did not (Unavailable). Losing track of it any other way (a
 * snapshot covers its index, or this node appends something else there after losing and
 * regaining leadership) leaves its outcome unknown (Timeout), since it may still commit.
 *
 * Every request carries the time by which its caller needs an answer; `expire` (called on
 * every Raft tick) fails the requests past it with Timeout. That costs one sweep per tick
 * instead of a timer and two fibers per request.
 *
 * Every method is synchronous: the replicator's fibers touch this only inside synchronous
 * sections, and answering a caller is completing its Deferred, which wakes it.
 */
import { Deferred, Exit } from "effect"
import type { CommandOutcome, CommandResult } from "../../src/domain/commands.ts"
import { type CommandError, Timeout, Unavailable } from "../../src/domain/errors.ts"
import type { ProposalResult, ReadResult } from "../../src/raft/types.ts"
import type { ReplicationError } from "../../src/services/MetadataReplicator.ts"

export interface Proposal {
  /** The encoded LogEntry. */
  readonly data: Uint8Array
  readonly done: Deferred.Deferred<CommandResult, CommandError | ReplicationError>
  /** Clock millis after which the proposer is answered Timeout (its outcome unknown). */
  readonly expiresAt: number
}

export type ReadDone = Deferred.Deferred<void, ReplicationError>

export interface Read {
  readonly done: ReadDone
  readonly expiresAt: number
}

interface Appended {
  readonly term: number
  readonly done: Proposal["done"]
  readonly expiresAt: number
}

const unknownOutcome = (index: number) =>
  new Timeout({ message: `the proposal at log index ${index} was superseded before it committed here; its outcome is unknown` })

export class PendingRequests {
  private nextBatchId = 0
  private nextReadId = 0
  private readonly batches = new Map<number, ReadonlyArray<Proposal>>()
  /** Proposals in `batches`, counted as they come and go: `size` is asked on every request. */
  private batched = 0
  /** By log index. */
  private readonly appended = new Map<number, Appended>()
  private readonly reads = new Map<number, Read>()
  private readWaiters: Array<{ readonly index: number; readonly read: Read }> = []

  /** Requests waiting: proposals batched or appended, reads not yet released. */
  get size(): number {
    return this.batched + this.appended.size + this.reads.size + this.readWaiters.length
  }

  /** Register a batch for the core; returns the id its Propose input carries. */
  addBatch(proposals: ReadonlyArray<Proposal>): number {
    const id = this.nextBatchId++
    this.batches.set(id, proposals)
    this.batched += proposals.length
    return id
  }

  takeBatch(id: number): ReadonlyArray<Proposal> | undefined {
    const batch = this.batches.get(id)
    if (batch === undefined) return undefined
    this.batches.delete(id)
    this.batched -= batch.length
    return batch
  }

  addRead(read: Read): number {
    const id = this.nextReadId++
    this.reads.set(id, read)
    return id
  }

  /**
   * Refuse every proposal not yet appended to the log (`also`: ones not yet batched) and every
   * read not yet answered by the core: none of them happened, so `error` is definite.
   */
  failUnappended(error: ReplicationError, also: ReadonlyArray<Proposal> = []): void {
    const failed = Exit.fail(error)
    for (const proposal of also) Deferred.unsafeDone(proposal.done, failed)
    for (const batch of this.batches.values()) for (const proposal of batch) Deferred.unsafeDone(proposal.done, failed)
    this.batches.clear()
    this.batched = 0
    for (const read of this.reads.values()) Deferred.unsafeDone(read.done, failed)
    this.reads.clear()
  }

  /** Answer Timeout to every request whose caller stopped waiting by `now`. */
  expire(now: number, timeout: (what: string) => Timeout): void {
    // Made only when something expired: constructing an error captures a stack trace.
    let proposalError: Timeout | undefined
    let readError: Timeout | undefined
    const proposalTimeout = () => (proposalError ??= timeout("the proposal"))
    const readTimeout = () => (readError ??= timeout("the linearizable read"))
    for (const batch of this.batches.values()) {
      for (const proposal of batch) {
        if (proposal.expiresAt <= now) Deferred.unsafeDone(proposal.done, Exit.fail(proposalTimeout()))
      }
    }
    for (const [index, appended] of this.appended) {
      if (appended.expiresAt > now) continue
      this.appended.delete(index)
      Deferred.unsafeDone(appended.done, Exit.fail(proposalTimeout()))
    }
    for (const [id, read] of this.reads) {
      if (read.expiresAt > now) continue
      this.reads.delete(id)
      Deferred.unsafeDone(read.done, Exit.fail(readTimeout()))
    }
    if (this.readWaiters.some((waiter) => waiter.read.expiresAt <= now)) {
      for (const waiter of this.readWaiters) {
        if (waiter.read.expiresAt <= now) Deferred.unsafeDone(waiter.read.done, Exit.fail(readTimeout()))
      }
      this.readWaiters = this.readWaiters.filter((waiter) => waiter.read.expiresAt > now)
    }
  }

  /** The core's answer to a batch: appended at consecutive indices, or refused with `refusal`. */
  proposalResult(result: ProposalResult, refusal: (leaderId: string | null) => ReplicationError): void {
    const batch = this.takeBatch(result.id)
    if (batch === undefined) return
    if (result._tag === "Rejected") {
      const refused = Exit.fail(refusal(result.leaderId))
      for (const proposal of batch) Deferred.unsafeDone(proposal.done, refused)
      return
    }
    batch.forEach((proposal, offset) => {
      const index = result.firstIndex + offset
      const previous = this.appended.get(index)
      if (previous !== undefined) Deferred.unsafeDone(previous.done, Exit.fail(unknownOutcome(index)))
      this.appended.set(index, { term: result.term, done: proposal.done, expiresAt: proposal.expiresAt })
    })
  }

  /** The core's answer to a read: a read index to wait for, or a refusal. */
  readResult(result: ReadResult, applied: number, refusal: (leaderId: string | null) => ReplicationError): void {
    const read = this.reads.get(result.id)
    if (read === undefined) return
    this.reads.delete(result.id)
    if (result._tag === "ReadRejected") Deferred.unsafeDone(read.done, Exit.fail(refusal(result.leaderId)))
    else if (result.index <= applied) Deferred.unsafeDone(read.done, Exit.void)
    else this.readWaiters.push({ index: result.index, read })
  }

  /** The entry at `index` of `term` was applied with `outcome`: answer the proposal there, if any. */
  applied(index: number, term: number, outcome: CommandOutcome): void {
    const pending = this.appended.get(index)
    if (pending === undefined) return
    this.appended.delete(index)
    if (pending.term !== term) {
      Deferred.unsafeDone(
        pending.done,
        Exit.fail(
          new Unavailable({
            message: `the proposal at log index ${index} (term ${pending.term}) did not commit: ` +
              `an entry of term ${term} committed there`
          })
        )
      )
      return
    }
    Deferred.unsafeDone(pending.done, outcome._tag === "Ok" ? Exit.succeed(outcome.result) : Exit.fail(outcome.error))
  }

  /** A snapshot from the leader replaced the log up to `index`: proposals there cannot be told apart. */
  coveredBySnapshot(index: number): void {
    for (const [at, pending] of this.appended) {
      if (at > index) continue
      this.appended.delete(at)
      Deferred.unsafeDone(pending.done, Exit.fail(unknownOutcome(at)))
    }
  }

  /** Release the reads whose index is applied. */
  releaseReads(applied: number): void {
    if (!this.readWaiters.some((waiter) => waiter.index <= applied)) return
    const ready = this.readWaiters.filter((waiter) => waiter.index <= applied)
    this.readWaiters = this.readWaiters.filter((waiter) => waiter.index > applied)
    for (const waiter of ready) Deferred.unsafeDone(waiter.read.done, Exit.void)
  }

  /** Fail every caller still waiting (the replicator is closing or broke), plus `also`. */
  failAll(error: ReplicationError, also: Iterable<Proposal> = []): void {
    const failed = Exit.fail(error)
    const proposers = [...also].map((proposal) => proposal.done)
    for (const batch of this.batches.values()) for (const proposal of batch) proposers.push(proposal.done)
    for (const pending of this.appended.values()) proposers.push(pending.done)
    const readers = [...this.reads.values(), ...this.readWaiters.map((waiter) => waiter.read)].map((read) => read.done)
    this.batches.clear()
    this.batched = 0
    this.appended.clear()
    this.reads.clear()
    this.readWaiters = []
    for (const done of proposers) Deferred.unsafeDone(done, failed)
    for (const done of readers) Deferred.unsafeDone(done, failed)
  }
}
