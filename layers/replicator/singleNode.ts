/**
 * MetadataReplicator for a one-node cluster: the node is always the leader, and an entry is
 * committed once it is durable in its own write-ahead log.
 *
 * Proposals queue up; one batching fiber takes up to `batchSize` of them (waiting at most
 * `batchWaitMillis` for a batch to fill), gives them consecutive indices, appends them to the
 * WAL in one append (one fsync), applies them in index order and hands each proposer the
 * state machine's outcome. Every `snapshotThreshold` applied entries it makes the store's state
 * durable (`flush`) and compacts the log to a mark of where (`WriteAheadLog.rewrite`, whose
 * tmp + fsync + rename + directory fsync makes it atomic), so the log stays short and
 * compacting costs the same at any namespace size.
 *
 * A proposal or read waiting past its request's deadline fails with Timeout (the contract's).
 *
 * Restart: the log's snapshot is restored only if the store is behind it, then only entries
 * above the store's applied index are applied, so nothing is ever applied twice.
 */
import { Cause, Clock, Deferred, Effect, Layer, ParseResult, Queue, Ref, Schema } from "effect"
import type { ReplicatorStatus } from "../../src/domain/cluster.ts"
import { type CommandResult, LogEntry, type MetadataCommand, type RequestTag } from "../../src/domain/commands.ts"
import type { Corruption, CommandError, IoError } from "../../src/domain/errors.ts"
import { InvalidArgument, Unavailable } from "../../src/domain/errors.ts"
import {
  encodeReplicatorRecord, type EntryRecord, type HardStateRecord, type SnapshotMarkRecord
} from "../../src/raft/walRecords.ts"
import { MetadataReplicator, type ReplicationError } from "../../src/services/MetadataReplicator.ts"
import { MetadataService, type MetadataServiceShape } from "../../src/services/MetadataService.ts"
import { WriteAheadLog, type WriteAheadLogShape } from "../../src/services/WriteAheadLog.ts"
import { catchUpToSnapshot, lastLogIndex, readLog, type RecoveredLog } from "./logRecovery.ts"
import { DEFAULT_SNAPSHOT_THRESHOLD } from "./snapshotPolicy.ts"
import { makeReplicatedClock } from "./replicatedClock.ts"
import { byDeadline } from "../../src/lib/deadline.ts"

export interface SingleNodeReplicatorOptions {
  readonly nodeId: string
  /** Most proposals in one WAL append (default 64). */
  readonly batchSize?: number
  /** Longest a batch waits, by Clock, for more proposals before it is written (default 10; 0 writes at once). */
  readonly batchWaitMillis?: number
  /** Applied entries between snapshots; each snapshot compacts the log (default DEFAULT_SNAPSHOT_THRESHOLD, 10 000). */
  readonly snapshotThreshold?: number
}

interface Proposal {
  readonly _tag: "Proposal"
  readonly entry: LogEntry
  readonly done: Deferred.Deferred<CommandResult, CommandError | ReplicationError>
}

/** A linearizable read's place in the queue: released once everything before it is applied. */
interface Barrier {
  readonly _tag: "Barrier"
  readonly done: Deferred.Deferred<void, ReplicationError>
}

type Pending = Proposal | Barrier

/** Bring the store up to the end of the log without applying anything twice. */
const replay = (metadata: MetadataServiceShape, log: RecoveredLog<EntryRecord>) =>
  Effect.gen(function*() {
    const applied = yield* catchUpToSnapshot(metadata, log)
    for (const entry of log.entries) {
      if (entry.index > applied) yield* metadata.apply(entry.index, entry.entry)
    }
    return lastLogIndex(log)
  })

const invalidCommand = (error: ParseResult.ParseError) =>
  new InvalidArgument({ message: `invalid metadata command: ${ParseResult.TreeFormatter.formatErrorSync(error)}` })

const make = (options: SingleNodeReplicatorOptions) =>
  Effect.gen(function*() {
    const nodeId = options.nodeId
    const batchSize = Math.max(1, options.batchSize ?? 64)
    const batchWaitMillis = Math.max(0, options.batchWaitMillis ?? 10)
    const snapshotThreshold = Math.max(1, options.snapshotThreshold ?? DEFAULT_SNAPSHOT_THRESHOLD)
    const wal: WriteAheadLogShape = yield* WriteAheadLog
    const metadata = yield* MetadataService

    const log = yield* readLog(wal.recovered, "Entry")
    const term = Math.max(1, log.hardState?.term ?? 0)
    const lastIndex = yield* replay(metadata, log)
    const replicatedClock = yield* makeReplicatedClock(yield* metadata.clock)
    // Everything in a one-node log is committed once durable: the commit index needs no record.
    const hardState: HardStateRecord = { _tag: "HardState", term, votedFor: nodeId, commit: 0 }
    if (log.hardState === undefined) yield* wal.append([encodeReplicatorRecord(hardState)])

    // Written only by the batching fiber; `status` reads it.
    const progress = yield* Ref.make({ lastIndex, appliedIndex: lastIndex, snapshotIndex: log.snapshot?.index ?? 0 })
    // After a WAL or store failure the log and store may disagree: refuse everything until restart.
    let broken: ReplicationError | undefined

    // Everything appended is applied by the time this runs (one batch at a time), so the mark
    // is the end of the log and no entry follows it.
    const compact = Effect.gen(function*() {
      const { appliedIndex } = yield* Ref.get(progress)
      yield* metadata.flush
      const mark: SnapshotMarkRecord = { _tag: "SnapshotMark", index: appliedIndex, term }
      yield* wal.rewrite([encodeReplicatorRecord(hardState), encodeReplicatorRecord(mark)])
      yield* Ref.update(progress, (p) => ({ ...p, snapshotIndex: appliedIndex }))
    })

    const failAll = (items: Iterable<Pending>, error: ReplicationError) =>
      Effect.forEach(
        items,
        (item) => item._tag === "Proposal" ? Deferred.fail(item.done, error) : Deferred.fail(item.done, error),
        { discard: true }
      )

    /** Append, apply and answer one batch; a failure breaks the replicator. */
    const processBatch = (batch: ReadonlyArray<Pending>) =>
      Effect.gen(function*() {
        if (broken !== undefined) return yield* failAll(batch, broken)
        const proposals = batch.filter((item): item is Proposal => item._tag === "Proposal")
        const barriers = batch.filter((item): item is Barrier => item._tag === "Barrier")
        const first = (yield* Ref.get(progress)).lastIndex + 1
        if (proposals.length > 0) {
          const records = proposals.map((proposal, i) =>
            encodeReplicatorRecord({ _tag: "Entry", index: first + i, term, entry: proposal.entry })
          )
          const appended = yield* Effect.either(wal.append(records))
          if (appended._tag === "Left") {
            broken = appended.left
            return yield* failAll(batch, appended.left)
          }
          yield* Ref.update(progress, (p) => ({ ...p, lastIndex: first + proposals.length - 1 }))
          for (const [i, proposal] of proposals.entries()) {
            const outcome = yield* Effect.either(metadata.apply(first + i, proposal.entry))
            if (outcome._tag === "Left") {
              broken = outcome.left
              return yield* failAll([...proposals.slice(i), ...barriers], outcome.left)
            }
            yield* Ref.update(progress, (p) => ({ ...p, appliedIndex: first + i }))
            replicatedClock.applied(proposal.entry.clock)
            yield* outcome.right._tag === "Ok"
              ? Deferred.succeed(proposal.done, outcome.right.result)
              : Deferred.fail(proposal.done, outcome.right.error)
          }
        }
        yield* Effect.forEach(barriers, (barrier) => Deferred.succeed(barrier.done, undefined), { discard: true })
        const { appliedIndex, snapshotIndex } = yield* Ref.get(progress)
        if (appliedIndex - snapshotIndex >= snapshotThreshold) {
          yield* compact.pipe(Effect.catchAll((error) => Effect.sync(() => { broken = error })))
        }
      })

    /** A defect (a bug in the state machine) stops the replicator instead of killing the batching fiber. */
    const stop = (batch: ReadonlyArray<Pending>, cause: Cause.Cause<never>) =>
      Effect.gen(function*() {
        yield* Effect.logError("metadata replicator stopped by a defect", cause)
        broken = new Unavailable({ message: `replicator on ${nodeId} stopped after an internal error` })
        yield* failAll(batch, broken)
      })

    const queue = yield* Queue.unbounded<Pending>()
    // Opened by every arrival, so a lingering batch wakes as soon as there is more to take.
    const arrivals = yield* Effect.makeLatch(false)
    const enqueue = (item: Pending) => Queue.offer(queue, item).pipe(Effect.zipRight(arrivals.open))

    const proposalCount = (batch: ReadonlyArray<Pending>) => batch.filter((item) => item._tag === "Proposal").length

    /** Add to `batch` until it is full, holds a read barrier, or the batch wait is over. */
    const fill = (batch: Array<Pending>) =>
      Effect.gen(function*() {
        const deadline = (yield* Clock.currentTimeMillis) + batchWaitMillis
        while (true) {
          yield* arrivals.close
          batch.push(...(yield* Queue.takeUpTo(queue, batchSize - proposalCount(batch))))
          if (proposalCount(batch) >= batchSize || batch.some((item) => item._tag === "Barrier")) return
          const now = yield* Clock.currentTimeMillis
          if (now >= deadline) return
          yield* Effect.race(arrivals.await, Effect.sleep(deadline - now))
        }
      })

    const closing = new Unavailable({ message: `replicator on ${nodeId} is shutting down` })
    yield* Effect.addFinalizer(() => Queue.takeAll(queue).pipe(Effect.flatMap((items) => failAll(items, closing))))
    // Only waiting can be interrupted: a batch taken is either processed whole or failed.
    yield* Effect.uninterruptibleMask((restore) =>
      Effect.gen(function*() {
        const batch = [yield* restore(Queue.take(queue))]
        yield* restore(fill(batch)).pipe(Effect.onInterrupt(() => failAll(batch, closing)))
        yield* processBatch(batch).pipe(Effect.catchAllCause((cause) => stop(batch, cause)))
      })
    ).pipe(Effect.forever, Effect.forkScoped)

    const propose = (command: MetadataCommand, request?: RequestTag | null) =>
      Effect.gen(function*() {
        const clock = yield* replicatedClock.read
        const entry = yield* Schema.validate(LogEntry)({ request: request ?? null, command, clock }).pipe(
          Effect.mapError(invalidCommand)
        )
        const done = yield* Deferred.make<CommandResult, CommandError | ReplicationError>()
        yield* enqueue({ _tag: "Proposal", entry, done })
        return yield* byDeadline("a proposal")(Deferred.await(done))
      })

    const linearizable = <A, E, R>(read: Effect.Effect<A, E, R>) =>
      Effect.gen(function*() {
        const done = yield* Deferred.make<void, ReplicationError>()
        yield* enqueue({ _tag: "Barrier", done })
        yield* byDeadline("a read")(Deferred.await(done))
        return yield* read
      })

    const status = Ref.get(progress).pipe(
      Effect.map((p): ReplicatorStatus => ({
        nodeId,
        role: "standalone",
        term,
        leaderId: nodeId,
        commitIndex: p.lastIndex,
        appliedIndex: p.appliedIndex,
        lastIndex: p.lastIndex,
        snapshotIndex: p.snapshotIndex
      }))
    )

    // The only node leads, and its applied state is never behind a leader's.
    return MetadataReplicator.of({ propose, linearizable, leaderLocal: (read) => read, status, clock: replicatedClock.read })
  })

export const SingleNodeReplicator = (
  options: SingleNodeReplicatorOptions
): Layer.Layer<MetadataReplicator, IoError | Corruption, WriteAheadLog | MetadataService> =>
  Layer.scoped(MetadataReplicator, make(options))
