/**
 * MetadataReplicator for a cluster of voters: the Effect layer around the pure Raft core
 * (src/raft/core.ts). The core decides; this layer does its I/O, in the order the core's
 * Output contract requires.
 *
 * Fibers, all scoped to the layer:
 * - the driver owns the core. Each turn it drains every queued input (ticks, messages from
 *   the transport's inbox, proposal batches, read requests, Compact reports), steps the core
 *   with each, persists the merged result with ONE WAL append (group commit: one fsync for
 *   everything that arrived while the previous one ran), and only then sends the messages,
 *   settles proposal and read results and hands committed entries to the applier. Entries
 *   made durable are reported back as `Persisted` at the start of the next turn. Two
 *   refinements, both as etcd does them: a leader whose term and vote are already durable
 *   sends its AppendEntries while its own append runs (the core counts the leader's own log
 *   only after `Persisted`), and a hard state whose commit index alone moved is written with
 *   the next append instead of costing an fsync of its own (recovery treats it as a hint).
 *   A non-leader's append (a follower's entries, a candidate's vote) is marked `inline`: the
 *   leader or the election waits on it, so a file log may block on the fsync instead of a
 *   round trip through the thread pool.
 * - the applier applies committed entries to the MetadataService in index order, the entries
 *   of one turn with one store write (a snapshot from the leader is restored first; a
 *   follower's driver hands entries on in batches, at FOLLOWER_APPLY_BATCH or the next tick,
 *   as it answers no client), answers
 *   each proposer with the state machine's outcome as soon as it is decided (before the write
 *   lands: it cannot change), releases reads whose index is applied (after the write lands),
 *   leaves the applied index for the driver's next turn to report (`Applied` wakes no turn of
 *   its own), and every `snapshotThreshold` entries compacts the log
 *   (snapshotPolicy.ts): it flushes the store, whose state is then durable, and has the driver
 *   discard the log up to `snapshotCatchUpEntries` behind the applied index; the WAL then
 *   holds only a mark of where it was compacted, never a copy of the store.
 * - a snapshot to send followers that are behind the log is encoded only when the core asks for
 *   one (`snapshotWanted`): from one read view of the store, page by page in a fiber of its
 *   own while applies go on, then offered to the core.
 * - with a batch wait, the batcher collects proposals into batches of up to `batchSize`,
 *   waiting at most `batchWaitMillis` (by Clock) for one to fill; without one (the default of
 *   the topologies) a proposal goes straight to the driver, which proposes everything that
 *   queued during its last turn together. The ticker ticks every `tickMillis` and answers
 *   Timeout to callers whose deadline passed.
 *
 * Outcomes a proposer sees: the state machine's result (or its CommandError); NotLeader with the
 * leader's id and address when this node is not the leader; Unavailable when a different
 * entry committed at the proposal's index (it did not commit) or the layer is closing;
 * Timeout when neither happened by its deadline (the outcome is unknown: a retry with the same
 * request id is deduplicated by the state machine).
 *
 * A WAL or store failure stops the replicator (the log and the store may disagree): waiting
 * and later calls fail with that error until the node restarts and recovers.
 *
 * Rebuild guard: a node whose WAL and store were wiped (`sandstore rebuild`) has forgotten its
 * vote, and voting again in a term it already voted in could elect two leaders. While the
 * `rebuildMarker` file exists the driver drops PreVote and RequestVote before the core sees
 * them; the applier removes the file once the node has caught up from a leader: installed its
 * snapshot, or applied up to the commit index of the first AppendEntries it received.
 */
import { Cause, Deferred, Duration, Effect, Either, Exit, FiberId, Layer, Option } from "effect"
import { rm, stat } from "node:fs/promises"
import type { ReplicatorStatus } from "../../src/domain/cluster.ts"
import type { CommandOutcome, CommandResult, LogEntry, MetadataCommand, RequestTag } from "../../src/domain/commands.ts"
import {
  Busy, Corruption, type CommandError, type IoError, NotLeader, Timeout, Unavailable
} from "../../src/domain/errors.ts"
import {
  createRaft, entriesAfter, latestSnapshot, logTerm, raftStatus, receivingSnapshot, snapshotsInUse, step
} from "../../src/raft/core.ts"
import type { Entry, Input, Message, NodeId, Output, RaftConfig, Snapshot } from "../../src/raft/types.ts"
import { EndpointResolver } from "../../src/services/EndpointResolver.ts"
import { MetadataReplicator, type ReplicationError } from "../../src/services/MetadataReplicator.ts"
import { MetadataService } from "../../src/services/MetadataService.ts"
import { RaftTransport } from "../../src/services/RaftTransport.ts"
import { SnapshotStore } from "../../src/services/SnapshotStore.ts"
import { WriteAheadLog } from "../../src/services/WriteAheadLog.ts"
import { Inbox } from "../../src/lib/inbox.ts"
import { capByDeadline } from "../../src/lib/deadline.ts"
import { makeEntryCodec } from "./entryData.ts"
import { makeReplicatedClock } from "./replicatedClock.ts"
import { PendingRequests, type Proposal, type ReadDone } from "./pendingRequests.ts"
import {
  compactedLog, entryRecord, hardStateRecord, recoverRaftLog, snapshotFileRecord, snapshotMarkRecord
} from "./raftLog.ts"
import { fileSource } from "./logRecovery.ts"
import { makeSnapshotFiles, needsBytes } from "./snapshotFiles.ts"
import { type ApplyItem, RoundOutput } from "./roundOutput.ts"
import {
  compactionDue, compactionPoint, type CompactionPolicy, DEFAULT_SNAPSHOT_CATCH_UP_ENTRIES, DEFAULT_SNAPSHOT_THRESHOLD
} from "./snapshotPolicy.ts"

export interface RaftReplicatorOptions {
  readonly nodeId: NodeId
  /** Every voter, this node included; fixed for the life of the cluster. */
  readonly voters: ReadonlyArray<NodeId>
  /** Clock time of one Raft tick (default 50 ms). */
  readonly tickMillis?: number
  /** Ticks without a leader before campaigning, randomized up to twice this (default 10). */
  readonly electionTicks?: number
  /** Ticks between a leader's heartbeats (default 2). */
  readonly heartbeatTicks?: number
  /** Most proposals in one batch handed to the core (default 64). */
  readonly batchSize?: number
  /** Longest a batch waits, by Clock, for more proposals (default 10; 0 hands it over at once). */
  readonly batchWaitMillis?: number
  /** Applied entries between log compactions (default DEFAULT_SNAPSHOT_THRESHOLD, 10 000): see snapshotPolicy.ts. */
  readonly snapshotThreshold?: number
  /** Entries kept behind the applied index at each compaction, for lagging followers (default 5 000). */
  readonly snapshotCatchUpEntries?: number
  /** Bytes of snapshot per InstallSnapshot message (default 1 MiB). */
  readonly snapshotChunkBytes?: number
  /** AppendEntries in flight per follower (default 64). */
  readonly maxInflight?: number
  /** Most entries in one AppendEntries (default 256). */
  readonly maxEntriesPerMessage?: number
  /** Most entry bytes in one AppendEntries (default 1 MiB). */
  readonly maxBytesPerMessage?: number
  /** Seeds the core's election jitter; mixed with the node id so voters differ (default 0). */
  readonly seed?: number
  /** Longest a proposal or read waits for its outcome before failing with Timeout (default 5 s). */
  readonly proposalTimeout?: Duration.DurationInput
  /**
   * A WAL write taking longer than this (default 2 s) marks the node's disk as stalled: it stops
   * taking requests as leader (NotLeader, so clients look for another node) until the write
   * returns. Its stopped heartbeats let the others elect a leader meanwhile.
   */
  readonly walStallMillis?: number
  /**
   * Proposals and linearizable reads waiting for their outcome at once, at most (default 4096):
   * past it a request is refused with Busy instead of queueing without bound.
   */
  readonly maxPendingRequests?: number
  /**
   * Path of the rebuild marker (a data dir's REBUILD_MARKER). If the file exists at start, the
   * node does not vote until it has caught up from a leader, then removes it (default: no guard).
   */
  readonly rebuildMarker?: string
}

/** The file `sandstore rebuild` leaves in a data dir: the node in it lost its log and its vote. */
export const REBUILD_MARKER = "REBUILDING"

const TICK: Input = { _tag: "Tick" }

/** How long a leader waits to encode a snapshot again after one could not be written. */
const ENCODE_RETRY_MILLIS = 5000

/** Most entries applied with one store write (a node catching up applies thousands at once). */
const MAX_ENTRIES_PER_WRITE = 512
/** A follower hands committed entries to its applier in batches of this many (or at the next tick). */
const FOLLOWER_APPLY_BATCH = 64

/** FNV-1a of the node id: voters sharing one configured seed still draw different timeouts. */
const nodeSeed = (nodeId: NodeId, seed: number): number => {
  let hash = 0x811c9dc5
  for (let i = 0; i < nodeId.length; i++) hash = Math.imul(hash ^ nodeId.charCodeAt(i), 0x01000193)
  return (hash ^ Math.imul(seed, 0x9e3779b1)) >>> 0
}

const markerExists = (path: string) =>
  Effect.tryPromise(() => stat(path)).pipe(
    Effect.as(true),
    Effect.catchAll((error) =>
      (error.error as { code?: unknown } | undefined)?.code === "ENOENT"
        ? Effect.succeed(false)
        : Effect.dieMessage(`cannot tell whether the rebuild marker ${path} exists: ${String(error.error)}`)
    )
  )

/** A committed entry about to be applied, with the LogEntry its bytes hold. */
interface FreshEntry {
  readonly raft: Entry
  readonly index: number
  readonly entry: LogEntry
}


const make = (options: RaftReplicatorOptions) =>
  Effect.gen(function*() {
    const nodeId = options.nodeId
    if (!options.voters.includes(nodeId)) {
      return yield* Effect.dieMessage(`voters [${options.voters.join(", ")}] do not include this node ${nodeId}`)
    }
    const voters = new Set(options.voters)
    const tickMillis = Math.max(1, options.tickMillis ?? 50)
    const batchSize = Math.max(1, options.batchSize ?? 64)
    const batchWaitMillis = Math.max(0, options.batchWaitMillis ?? 10)
    const compaction: CompactionPolicy = {
      threshold: Math.max(1, options.snapshotThreshold ?? DEFAULT_SNAPSHOT_THRESHOLD),
      catchUpEntries: Math.max(0, options.snapshotCatchUpEntries ?? DEFAULT_SNAPSHOT_CATCH_UP_ENTRIES)
    }
    const proposalTimeout = Duration.decode(options.proposalTimeout ?? "5 seconds")
    const walStallMillis = Math.max(1, options.walStallMillis ?? 2000)
    const maxPending = Math.max(1, options.maxPendingRequests ?? 4096)
    const config: RaftConfig = {
      id: nodeId,
      voters: [...voters],
      electionTicks: Math.max(2, options.electionTicks ?? 10),
      heartbeatTicks: Math.max(1, options.heartbeatTicks ?? 2),
      maxEntriesPerMessage: Math.max(1, options.maxEntriesPerMessage ?? 256),
      maxBytesPerMessage: Math.max(1, options.maxBytesPerMessage ?? 1024 * 1024),
      maxInflight: Math.max(1, options.maxInflight ?? 64),
      snapshotChunkBytes: Math.max(1, options.snapshotChunkBytes ?? 1024 * 1024),
      preVote: true,
      checkQuorum: true,
      seed: nodeSeed(nodeId, options.seed ?? 0)
    }

    const layerScope = yield* Effect.scope
    const wal = yield* WriteAheadLog
    const metadata = yield* MetadataService
    const transport = yield* RaftTransport
    const resolver = yield* EndpointResolver
    const snapshotStore = yield* SnapshotStore
    const snapshotFiles = makeSnapshotFiles(snapshotStore, config.snapshotChunkBytes)

    // Read synchronously on the driver's and applier's hot paths (one Clock for all the fibers).
    const clock = yield* Effect.clock
    const boot = yield* recoverRaftLog(wal.recovered, metadata, snapshotStore)
    const replicatedClock = yield* makeReplicatedClock(yield* metadata.clock)
    const core = createRaft(config, boot.recovered, boot.applied)

    // Shared by the fibers below. Each is read and written only inside synchronous sections,
    // so no fiber ever sees another's change half made.
    let broken: ReplicationError | undefined
    /** When the driver's current WAL write began (null: none running), and whether it has run too long. */
    let persistingSince: number | null = null
    let stalled = false
    let hardState = boot.recovered.hardState
    let applied = boot.applied
    /** The applied index at the last compaction (or installed snapshot): the next is due `snapshotThreshold` after it. */
    let lastCompactedAt = boot.applied
    /** A snapshot for followers is being encoded, or offered and not yet stepped by the driver. */
    let encodingSnapshot = false
    const pending = new PendingRequests()
    const entryCodec = makeEntryCodec()

    // ---- rebuild guard ----------------------------------------------------------------------

    const marker = options.rebuildMarker
    let rebuilding = marker !== undefined && (yield* markerExists(marker))
    /** The commit index of the first AppendEntries received while rebuilding: caught up once applied. */
    let catchUpTo: number | undefined
    if (rebuilding) yield* Effect.logWarning(`${nodeId} is rebuilding (${marker} exists): it will not vote until it has caught up from a leader`)

    /** Whether `message` reaches the core: a rebuilding node takes no part in elections. */
    const admitted = (message: Message) => {
      if (!rebuilding) return true
      if (message._tag === "PreVote" || message._tag === "RequestVote") return false
      if (message._tag === "AppendEntries" && catchUpTo === undefined) catchUpTo = message.leaderCommit
      return true
    }

    /** Lift the guard once caught up; if the marker cannot be removed the guard stays, which is safe. */
    const endRebuildIfCaughtUp = (installedSnapshot: boolean) =>
      Effect.suspend(() => {
        if (!rebuilding || marker === undefined) return Effect.void
        if (!installedSnapshot && (catchUpTo === undefined || applied < catchUpTo)) return Effect.void
        return Effect.tryPromise(() => rm(marker, { force: true })).pipe(
          Effect.zipRight(Effect.sync(() => {
            rebuilding = false
          })),
          Effect.zipRight(Effect.log(`${nodeId} caught up from the leader at index ${applied}: removed ${marker}, voting again`)),
          Effect.catchAll((error) => Effect.logWarning(`${nodeId} could not remove ${marker}; still not voting`, error))
        )
      })

    const inputs = new Inbox<Input>()
    const proposals = new Inbox<Proposal>()
    const applyQueue = new Inbox<ApplyItem>()

    const notLeader = (leaderId: NodeId | null) =>
      new NotLeader({
        message: leaderId === null ? `${nodeId} is not the leader, and knows no leader yet` : `${nodeId} is not the leader`,
        leaderId,
        address: null
      })

    const closing = new Unavailable({ message: `Raft replicator on ${nodeId} is shutting down` })

    /**
     * Stop for good: fail everything waiting and refuse what comes later (the inboxes shut, so a
     * proposal or read that raced past the checks fails instead of waiting for fibers that are gone).
     */
    const stop = (error: ReplicationError) =>
      Effect.suspend(() => {
        if (broken === undefined) broken = error
        inputs.shutdown()
        applyQueue.shutdown()
        snapshotSends.shutdown()
        pending.failAll(error, proposals.shutdown())
        return Effect.void
      })

    /** A failed or crashed fiber stops the replicator: its state and the disk may disagree now. */
    const breakDown = (cause: Cause.Cause<ReplicationError>) =>
      Effect.gen(function*() {
        if (Cause.isInterruptedOnly(cause)) return yield* Effect.failCause(cause)
        const failure = Cause.failureOption(cause)
        const error = Option.isSome(failure)
          ? failure.value
          : new Unavailable({ message: `Raft replicator on ${nodeId} stopped after an internal error` })
        yield* Effect.logError(`Raft replicator on ${nodeId} stopped`, cause)
        yield* stop(error)
      })

    const healthy = () => broken === undefined

    /** Run `body` over and over until the replicator breaks; a failure breaks it. */
    const loop = <E extends ReplicationError>(body: Effect.Effect<void, E>) =>
      Effect.whileLoop({ while: healthy, body: () => body, step: () => {} }).pipe(Effect.catchAllCause(breakDown))

    // ---- driver -------------------------------------------------------------------------

    /** The first Output of the next turn: the core's answer to `Persisted`. */
    let carried: Output | null = null
    /**
     * An applied index the core has not been told of. It rides on the driver's next turn (the
     * next tick at the latest) instead of waking the driver for a turn of its own: the core
     * needs it only to bound compaction and snapshot offers, which come as inputs after it.
     */
    let appliedToReport: number | null = null

    /** Where the WAL's log starts: when the core's compaction point moves past it, the log is rewritten. */
    let walSnapshotIndex = boot.recovered.snapshot?.index ?? boot.recovered.compactedTo?.index ?? 0
    /** The snapshot file the WAL's log starts from (null: a mark), kept until a mark replaces it. */
    let walSnapshotFile: Snapshot | null = boot.recovered.snapshot
    /** Snapshots in use changed (an offer, a compaction, an install, a restore): delete the others at the end of the turn. */
    let retainWanted = true
    /** Installed snapshots handed to the applier and not restored yet: their files are in use. */
    const restoring: Array<Snapshot> = []
    /** No snapshot encoding starts before this (Clock millis): the last one failed to write. */
    let encodeRetryAt = 0
    /** The hard state last written to the WAL; `hardState` may be ahead of it by its commit index only. */
    let durableHardState = hardState

    /** Term and vote must be durable before anything that depends on them is sent; the commit index need not. */
    const termOrVoteChanged = () =>
      hardState.term !== durableHardState.term || hardState.votedFor !== durableHardState.votedFor

    /**
     * The WAL write that makes the turn durable, yielding the last entry it persisted (to report
     * as Persisted); undefined when the turn needs none.
     */
    const persist = (turn: RoundOutput): Effect.Effect<Entry | undefined, IoError> | undefined => {
      // Chunks of a snapshot from the leader go to its file first: the answers saying they
      // arrived leave after this turn's persist, and an installed snapshot is committed there
      // (durable) before the log that starts from it.
      const receiving = receivingSnapshot(core)
      const received = turn.snapshotChunks.length > 0 || (snapshotFiles.holdsPartial() && !receiving)
        ? snapshotFiles.receive(turn.snapshotChunks, receiving)
        : undefined
      const log = persistLog(turn)
      if (received === undefined) return log
      return log === undefined ? Effect.as(received, undefined) : Effect.zipRight(received, log)
    }

    const persistLog = (turn: RoundOutput): Effect.Effect<Entry | undefined, IoError> | undefined => {
      // Compaction and installed snapshots start a new log: what heads it, and what follows.
      // An installed snapshot heads it as a record naming its file (the store catches up from
      // that file only after); a compaction of this node's own is only a mark: its store holds
      // that state durably.
      const installed = turn.installed !== null && turn.installed.index > walSnapshotIndex ? turn.installed : null
      const compactedTo = raftStatus(core).snapshotIndex
      const written = hardState
      if (installed !== null || compactedTo > walSnapshotIndex) {
        const head = installed ?? { index: compactedTo, term: logTerm(core, compactedTo)! }
        const kept = entriesAfter(core, head.index)
        const log = compactedLog(written, installed !== null ? snapshotFileRecord(installed) : snapshotMarkRecord(head), kept)
        return Effect.map(wal.rewrite(log), () => {
          durableHardState = written
          walSnapshotIndex = head.index
          walSnapshotFile = installed
          retainWanted = true
          return turn.entries.length > 0 ? kept[kept.length - 1] : undefined
        })
      }
      // A hard state whose commit index alone moved waits for the next append: it is only a
      // hint for recovery (which also trusts the store's applied index), not worth an fsync.
      if (turn.entries.length === 0 && !termOrVoteChanged()) return undefined
      const records = turn.entries.map(entryRecord)
      if (written !== durableHardState) records.unshift(hardStateRecord(written))
      // A follower's leader (or a candidate's election) waits for this append, and nothing else
      // the node does is as urgent: it may block on the fsync. A leader keeps its loop free to
      // notice a stalled disk and stop leading.
      return Effect.map(wal.append(records, { inline: raftStatus(core).role !== "leader" }), () => {
        durableHardState = written
        return turn.entries[turn.entries.length - 1]
      })
    }

    /** Answer the proposers and readers the core answered this turn. */
    const settleResults = (turn: RoundOutput) => {
      for (const result of turn.proposals) pending.proposalResult(result, notLeader)
      for (const result of turn.reads) pending.readResult(result, applied, notLeader)
    }

    /**
     * Batches that queued up during the last turn (while its fsync ran) are proposed together,
     * up to `batchSize` proposals at a time: one append, one AppendEntries per follower. Reads
     * asked meanwhile go to the core as one ReadIndex, so they share one confirmation round.
     */
    const coalesceInputs = (taken: Iterable<Input>): Array<Input> => {
      const result: Array<Input> = []
      let open: { readonly at: number; readonly proposals: Array<Proposal> } | undefined
      const close = () => {
        if (open === undefined) return
        const id = pending.addBatch(open.proposals)
        result[open.at] = { _tag: "Propose", id, data: open.proposals.map((proposal) => proposal.data) }
        open = undefined
      }
      let reads: { readonly at: number; readonly ids: Array<number> } | undefined
      for (const input of taken) {
        if (input._tag === "ReadIndex") {
          if (reads === undefined) {
            reads = { at: result.length, ids: [] }
            result.push(input)
          }
          for (const id of input.ids) reads.ids.push(id)
          continue
        }
        if (input._tag !== "Propose") {
          result.push(input)
          continue
        }
        const batch = pending.takeBatch(input.id)
        if (batch === undefined) continue
        if (open !== undefined && open.proposals.length + batch.length > batchSize) close()
        if (open === undefined) {
          open = { at: result.length, proposals: [] }
          result.push(input)
        }
        for (const proposal of batch) open.proposals.push(proposal)
      }
      close()
      if (reads !== undefined) result[reads.at] = { _tag: "ReadIndex", ids: reads.ids }
      return result
    }

    const isReplication = (message: Message) => message._tag === "AppendEntries" || message._tag === "InstallSnapshot"

    /** Step the core with everything taken this turn (and the answer to the last Persisted); merge what it says. */
    const stepCore = (own: Array<Input>, received: ReadonlyArray<Message>): RoundOutput => {
      for (const message of received) {
        if (isForUs(message) && admitted(message)) own.push({ _tag: "Receive", message })
      }
      const turn = new RoundOutput()
      if (carried !== null) turn.add(carried)
      carried = null
      if (appliedToReport !== null) {
        // First: a Compact or OfferSnapshot of this turn may rest on it.
        own.unshift({ _tag: "Applied", index: appliedToReport })
        appliedToReport = null
      }
      for (const input of coalesceInputs(own)) {
        if (input._tag === "Tick") tickedSinceHandOn = true
        turn.add(step(core, input))
        if (input._tag === "OfferSnapshot") encodingSnapshot = false
        if (input._tag === "OfferSnapshot" || input._tag === "Compact") retainWanted = true
      }
      if (turn.hardState !== null) hardState = turn.hardState
      return turn
    }

    /** Snapshot chunks whose bytes are still to be read: sent by a fiber of their own, so reads never hold up a turn. */
    const snapshotSends = new Inbox<Extract<Message, { _tag: "InstallSnapshot" }>>()

    const sendAll = (messages: ReadonlyArray<Message>) => {
      if (messages.length === 0) return Effect.void
      if (!messages.some(needsBytes)) return transport.send(messages)
      const ready: Array<Message> = []
      for (const message of messages) {
        if (needsBytes(message)) snapshotSends.offer(message)
        else ready.push(message)
      }
      return ready.length === 0 ? Effect.void : transport.send(ready)
    }

    /** Fill in and send the snapshot chunks queued, in order. */
    const snapshotSenderTurn = Effect.gen(function*() {
      const queued = yield* snapshotSends.takeAll
      const filled: Array<Message> = []
      for (const message of queued) {
        const withBytes = yield* snapshotFiles.attachBytes(message)
        if (withBytes !== null) filled.push(withBytes)
      }
      if (filled.length > 0) yield* transport.send(filled)
    })

    /**
     * Delete the snapshots nothing uses: not the one the WAL's log starts from, not those the
     * core may still send, not those the applier has yet to restore. Never while one is encoded
     * (until the driver steps its offer): it could be committed between the choice of what to
     * keep and the deletion.
     */
    const retainSnapshots = () => {
      retainWanted = false
      const keep = [...snapshotsInUse(core), ...restoring]
      if (walSnapshotFile !== null) keep.push(walSnapshotFile)
      // A snapshot left behind wastes space until the next try; it breaks nothing.
      return Effect.catchAll(snapshotFiles.retain(keep), (error) =>
        Effect.logWarning(`${nodeId} could not delete snapshots no longer in use: ${error.message}`))
    }

    /**
     * Committed entries a follower has yet to hand to its applier. A follower answers no
     * client, so it applies in batches: at FOLLOWER_APPLY_BATCH entries, at the next tick, or
     * when a snapshot is to be restored (in order). One store write per entry cost a follower
     * three times the CPU per entry of one write per 16 (~190 against ~60 µs on LevelDB); a
     * leader and a candidate hand everything on at once.
     */
    let heldApplies: Array<ApplyItem> = []
    let heldEntries = 0
    let tickedSinceHandOn = false

    const handOnApplies = (applies: ReadonlyArray<ApplyItem>) => {
      for (const item of applies) {
        heldApplies.push(item)
        if (item._tag === "Apply") heldEntries += item.entries.length
      }
      if (heldApplies.length === 0) return
      const hold = raftStatus(core).role === "follower" && !tickedSinceHandOn &&
        heldEntries < FOLLOWER_APPLY_BATCH && !heldApplies.some((item) => item._tag === "Restore")
      if (hold) return
      applyQueue.offerAll(heldApplies)
      heldApplies = []
      heldEntries = 0
      tickedSinceHandOn = false
    }

    /**
     * One turn: take what queued, step the core, persist, send, and hand on the results. Its
     * synchronous parts are plain code; it yields only to wait for input, to write the WAL and
     * to hand messages to the transport (a few effects per turn, whatever it carries).
     */
    const driverTurn = Effect.gen(function*() {
      const [own, received] = carried === null
        ? yield* Inbox.takeAllOfBoth(inputs, transport.incoming)
        : [inputs.poll(), transport.incoming.poll()]
      const turn = stepCore(own, received)
      // A leader whose term and vote are already durable replicates while its own append runs:
      // the core counts the leader's log toward commit only after `Persisted`, so followers'
      // fsyncs overlap the leader's instead of following it (Raft thesis §10.2.1, as etcd).
      const replicateEarly = raftStatus(core).role === "leader" && !termOrVoteChanged()
      const early = replicateEarly ? turn.messages.filter(isReplication) : []
      const afterPersist = replicateEarly ? turn.messages.filter((message) => !isReplication(message)) : turn.messages
      yield* sendAll(early)
      const write = persist(turn)
      let persisted: Entry | undefined
      if (write !== undefined) {
        persistingSince = clock.unsafeCurrentTimeMillis()
        // A failed write breaks the replicator (and the ticker's stall check with it).
        persisted = yield* write
        persistingSince = null
        stalled = false
      }
      yield* sendAll(afterPersist)
      settleResults(turn)
      // Wanted earlier in the turn and offered later in it (a tick's probe before the offer): not again.
      if (
        turn.snapshotWanted && !encodingSnapshot && latestSnapshot(core) === null &&
        clock.unsafeCurrentTimeMillis() >= encodeRetryAt
      ) yield* startSnapshotEncoding
      for (const item of turn.applies) if (item._tag === "Restore") restoring.push(item.snapshot)
      handOnApplies(turn.applies)
      if (retainWanted && !encodingSnapshot) yield* retainSnapshots()
      if (persisted !== undefined) {
        carried = step(core, { _tag: "Persisted", index: persisted.index, term: persisted.term })
      }
    })

    // ---- applier ------------------------------------------------------------------------

    /** The committed `entries` not applied yet, decoded; Corruption if they do not follow the applied index. */
    const freshEntries = (entries: ReadonlyArray<Entry>): Either.Either<Array<FreshEntry>, Corruption> => {
      const fresh: Array<FreshEntry> = []
      let next = applied + 1
      for (const entry of entries) {
        if (entry.index < next) continue
        if (entry.index !== next) {
          return Either.left(new Corruption({ message: `Raft committed entry ${entry.index} after applied index ${next - 1}` }))
        }
        const decoded = entryCodec.decode(entry)
        if (Either.isLeft(decoded)) return Either.left(decoded.left)
        fresh.push({ raft: entry, index: entry.index, entry: decoded.right })
        next++
      }
      return Either.right(fresh)
    }

    /** Answer the proposers of `fresh` with their decided `outcomes` (again: a no-op). */
    const answerProposers = (fresh: ReadonlyArray<FreshEntry>, outcomes: ReadonlyArray<CommandOutcome>) => {
      for (let k = 0; k < fresh.length; k++) pending.applied(fresh[k]!.index, fresh[k]!.raft.term, outcomes[k]!)
    }

    /**
     * The entries stored with `outcomes`: move the applied index (reads waiting for it see the
     * store with them from now on) and the clock, and answer proposers not answered yet.
     */
    const appliedAll = (fresh: ReadonlyArray<FreshEntry>, outcomes: ReadonlyArray<CommandOutcome>) => {
      applied = fresh[fresh.length - 1]!.index
      for (let k = 0; k < fresh.length; k++) replicatedClock.applied(fresh[k]!.entry.clock)
      answerProposers(fresh, outcomes)
    }

    /**
     * Apply `part` with one store write. Its proposers are answered once its outcomes are
     * decided, without waiting for the write to land (they cannot change: see applyAll); the
     * applied index, which releases reads, moves only after.
     */
    const applyPart = (part: ReadonlyArray<FreshEntry>) =>
      Effect.map(metadata.applyAll(part, (outcomes) => answerProposers(part, outcomes)), (outcomes) => appliedAll(part, outcomes))

    /** Apply committed `entries` (in index order), up to MAX_ENTRIES_PER_WRITE per store write, and answer their proposers. */
    const applyEntries = (entries: ReadonlyArray<Entry>): Effect.Effect<void, Corruption | IoError> =>
      Effect.suspend(() => {
        const fresh = freshEntries(entries)
        if (Either.isLeft(fresh)) return Effect.fail(fresh.left)
        const all = fresh.right
        if (all.length === 0) return Effect.void
        if (all.length <= MAX_ENTRIES_PER_WRITE) return applyPart(all)
        return Effect.forEach(
          Array.from({ length: Math.ceil(all.length / MAX_ENTRIES_PER_WRITE) }, (_, k) => all.slice(k * MAX_ENTRIES_PER_WRITE, (k + 1) * MAX_ENTRIES_PER_WRITE)),
          applyPart,
          { discard: true }
        )
      })

    /** Its file is no longer needed by the applier (restored, or behind the store already). */
    const restored = (snapshot: Snapshot) =>
      Effect.sync(() => {
        const at = restoring.indexOf(snapshot)
        if (at >= 0) restoring.splice(at, 1)
        retainWanted = true
      })

    const restore = (snapshot: Snapshot) =>
      Effect.gen(function*() {
        // The store never moves backwards.
        if (snapshot.index <= applied) return
        yield* metadata.restore(fileSource(snapshotStore, snapshot))
        replicatedClock.applied(yield* metadata.clock)
        const restored = yield* metadata.appliedIndex
        if (restored !== snapshot.index) {
          return yield* new Corruption({
            message: `snapshot at log index ${snapshot.index} restored a store at applied index ${restored}`
          })
        }
        applied = snapshot.index
        lastCompactedAt = snapshot.index
        pending.coveredBySnapshot(snapshot.index)
        yield* Effect.log(`${nodeId} installed the leader's snapshot at index ${snapshot.index}`)
        yield* endRebuildIfCaughtUp(true)
      }).pipe(Effect.ensuring(restored(snapshot)))

    /**
     * Every `snapshotThreshold` entries: make the store's state durable, then have the driver
     * discard the log up to the catch-up margin behind it. Nothing is copied: the cost does not
     * grow with the namespace.
     */
    const compactionWanted = () => !encodingSnapshot && compactionDue(compaction, applied, lastCompactedAt)
    // Not while a snapshot is being encoded: compacting past it would make it useless.
    const compact = Effect.gen(function*() {
      lastCompactedAt = applied
      const index = compactionPoint(compaction, applied)
      const term = logTerm(core, index)
      if (index <= raftStatus(core).snapshotIndex || term === undefined) return
      yield* metadata.flush
      inputs.offer({ _tag: "Compact", index, term })
    })

    /**
     * A follower is behind the log: encode the store from one read view, page by page in a
     * fiber of its own (applies go on meanwhile), and offer it to the core. The core knows the
     * term at its index; if the log was compacted past it meanwhile, the core drops it and asks again.
     */
    const encodeSnapshot = Effect.gen(function*() {
      const started = clock.unsafeCurrentTimeMillis()
      const snapshot = yield* snapshotFiles.encode(metadata, (index) => logTerm(core, index))
      if (snapshot === null) return false
      const millis = clock.unsafeCurrentTimeMillis() - started
      yield* Effect.log(
        `${nodeId} encoded a snapshot at index ${snapshot.index} for followers behind the log: ` +
          `${(snapshot.size / 1048576).toFixed(1)} MiB in ${millis} ms`
      )
      return inputs.offer({ _tag: "OfferSnapshot", snapshot })
    }).pipe(
      // A snapshot that could not be written (a full disk) leaves the node as it was: it goes on
      // leading, and tries again a while later if a follower still needs one.
      Effect.catchTag("IoError", (error) =>
        Effect.as(
          Effect.zipRight(
            Effect.sync(() => {
              encodeRetryAt = clock.unsafeCurrentTimeMillis() + ENCODE_RETRY_MILLIS
            }),
            Effect.logWarning(`${nodeId} could not write a snapshot for followers behind the log: ${error.message}`)
          ),
          false
        )),
      // Still "encoding" until the driver steps the offer (stepCore): a turn running meanwhile
      // that wanted a snapshot must not start another one.
      Effect.onExit((exit) => Effect.sync(() => {
        if (!(Exit.isSuccess(exit) && exit.value)) encodingSnapshot = false
      })),
      Effect.catchAllCause(breakDown)
    )

    const startSnapshotEncoding = Effect.suspend(() => {
      encodingSnapshot = true
      return Effect.asVoid(Effect.forkIn(encodeSnapshot, layerScope))
    })

    const applierTurn = Effect.gen(function*() {
      const items = yield* applyQueue.takeAll
      const before = applied
      // Consecutive Apply items go to the store as one batch; a Restore in between ends it.
      let batch: Array<Entry> = []
      for (const item of items) {
        if (item._tag === "Apply") {
          for (const entry of item.entries) batch.push(entry)
          continue
        }
        yield* applyEntries(batch)
        batch = []
        yield* restore(item.snapshot)
      }
      if (batch.length > 0) yield* applyEntries(batch)
      pending.releaseReads(applied)
      if (applied !== before) appliedToReport = applied
      if (rebuilding) yield* endRebuildIfCaughtUp(false)
      if (compactionWanted()) yield* compact
    })

    // ---- batcher, ticker ---------------------------------------------------------------------

    /** Add to `batch` until it is full or the batch wait is over. */
    const fill = (batch: Array<Proposal>) =>
      Effect.gen(function*() {
        const deadline = clock.unsafeCurrentTimeMillis() + batchWaitMillis
        while (batch.length < batchSize) {
          const now = clock.unsafeCurrentTimeMillis()
          if (now >= deadline) return
          // Wait for proposals, then take them: a take racing the timer could lose what it took.
          yield* Effect.timeoutOption(proposals.awaitItems, Duration.millis(deadline - now))
          for (const proposal of proposals.poll()) batch.push(proposal)
        }
      })


    /** Hand `batch` to the driver, at most `batchSize` proposals per core proposal. */
    const submit = (batch: ReadonlyArray<Proposal>) => {
      for (let start = 0; start < batch.length; start += batchSize) {
        const part = batch.slice(start, start + batchSize)
        const id = pending.addBatch(part)
        inputs.offer({ _tag: "Propose", id, data: part.map((proposal) => proposal.data) })
      }
    }

    /**
     * No batch wait: straight to the driver (a hop through the batcher fiber per proposal
     * cost a wake-up each). False if the replicator has stopped.
     */
    const submitNow = (proposal: Proposal): boolean => {
      const id = pending.addBatch([proposal])
      if (inputs.offer({ _tag: "Propose", id, data: [proposal.data] })) return true
      pending.takeBatch(id)
      return false
    }

    // A batch taken is always somewhere the closing finalizer finds it: failed here while it
    // fills (with a batch wait), registered in `pending` from then on.
    const batcherTurn = Effect.uninterruptibleMask((restore) =>
      Effect.gen(function*() {
        const batch = yield* restore(proposals.takeAll)
        if (batchWaitMillis > 0 && batch.length < batchSize) {
          yield* restore(fill(batch)).pipe(
            Effect.onInterrupt(() => Effect.forEach(batch, (p) => Deferred.fail(p.done, closing), { discard: true }))
          )
        }
        submit(batch)
      })
    )

    const timedOut = (what: string) =>
      new Timeout({ message: `${what} got no outcome in time on ${nodeId}; its outcome is unknown` })

    /**
     * The driver is stuck in a WAL write: stop leading (requests get NotLeader and look
     * elsewhere; waiting ones not yet in the log are told so, as nothing of them happened).
     */
    const stallDetected = Effect.suspend(() => {
      stalled = true
      const refusal = notLeader(null)
      pending.failUnappended(refusal, proposals.poll())
      return Effect.logWarning(`${nodeId}: a WAL write has taken over ${walStallMillis} ms; not leading until it returns`)
    })

    /** A tick for the core; also where callers past their deadline are answered, and a stalled disk is noticed. */
    const tick = Duration.millis(tickMillis)
    const tickerTurn = Effect.zipRight(
      Effect.sleep(tick),
      Effect.suspend(() => {
        inputs.offer(TICK)
        const now = clock.unsafeCurrentTimeMillis()
        pending.expire(now, timedOut)
        const stallNow = !stalled && persistingSince !== null && now - persistingSince > walStallMillis
        if (stallNow) return Effect.zipRight(stallDetected, endRebuildIfCaughtUp(false))
        return rebuilding ? endRebuildIfCaughtUp(false) : Effect.void
      })
    )

    const isForUs = (message: Message) => message.to === nodeId && voters.has(message.from)

    // Registered before the fibers start, so they run after they are interrupted.
    yield* Effect.addFinalizer(() => snapshotFiles.close)
    yield* Effect.addFinalizer(() => stop(closing))
    yield* Effect.forkScoped(loop(driverTurn))
    yield* Effect.forkScoped(loop(applierTurn))
    if (batchWaitMillis > 0) yield* Effect.forkScoped(loop(batcherTurn))
    yield* Effect.forkScoped(loop(tickerTurn))
    yield* Effect.forkScoped(loop(snapshotSenderTurn))

    // ---- the service ----------------------------------------------------------------------

    /** A NotLeader that names the leader's id also names its address, when the resolver knows it. */
    const withLeaderAddress = <A, E, R = never>(effect: Effect.Effect<A, E | NotLeader, R>) =>
      Effect.catchIf(
        effect,
        (error): error is NotLeader => error instanceof NotLeader && error.leaderId !== null && error.address === null,
        (error) =>
          resolver.resolve(error.leaderId!).pipe(
            Effect.option,
            Effect.flatMap((address) =>
              Effect.fail(new NotLeader({ message: error.message, leaderId: error.leaderId, address: Option.getOrNull(address) }))
            )
          )
      )

    /** Why a request cannot succeed here, at once: a broken replicator, a node that knows it is not leading, a full queue. */
    const refusal = (): ReplicationError | undefined => {
      if (broken !== undefined) return broken
      if (stalled) return notLeader(null)
      const status = raftStatus(core)
      if (status.role !== "leader") return notLeader(status.leaderId)
      if (pending.size + proposals.size >= maxPending) {
        return new Busy({ message: `${nodeId} has ${maxPending} requests waiting on the log; try again later`, retryAfterMillis: tickMillis })
      }
      return undefined
    }

    /** When a request made now must be answered by: the proposal timeout from now, or the request's deadline if sooner. */
    const expiry = Effect.suspend(() => capByDeadline(clock.unsafeCurrentTimeMillis() + Duration.toMillis(proposalTimeout)))

    const propose = (command: MetadataCommand, request?: RequestTag | null) =>
      withLeaderAddress(Effect.suspend((): Effect.Effect<CommandResult, CommandError | ReplicationError> => {
        const refused = refusal()
        if (refused !== undefined) return Effect.fail(refused)
        const data = entryCodec.encode({ request: request ?? null, command, clock: replicatedClock.now() })
        if (Either.isLeft(data)) return Effect.fail(data.left)
        return Effect.flatMap(expiry, (expiresAt) => {
          const done = Deferred.unsafeMake<CommandResult, CommandError | ReplicationError>(FiberId.none)
          const proposal: Proposal = { data: data.right, done, expiresAt }
          if (!(batchWaitMillis === 0 ? submitNow(proposal) : proposals.offer(proposal))) return Effect.fail(broken ?? closing)
          return Deferred.await(done)
        })
      }))

    const readIndex = withLeaderAddress(Effect.suspend((): Effect.Effect<void, ReplicationError> => {
      const refused = refusal()
      if (refused !== undefined) return Effect.fail(refused)
      return Effect.flatMap(expiry, (expiresAt) => {
        const done: ReadDone = Deferred.unsafeMake<void, ReplicationError>(FiberId.none)
        const id = pending.addRead({ done, expiresAt })
        if (!inputs.offer({ _tag: "ReadIndex", ids: [id] })) return Effect.fail(broken ?? closing)
        return Deferred.await(done)
      })
    }))

    const linearizable = <A, E, R>(read: Effect.Effect<A, E, R>) => Effect.zipRight(readIndex, read)

    const leaderLocal = <A, E, R>(read: Effect.Effect<A, E, R>) =>
      withLeaderAddress(Effect.suspend((): Effect.Effect<A, E | ReplicationError, R> => {
        const refused = refusal()
        return refused === undefined ? read : Effect.fail(refused)
      }))

    const status = Effect.sync((): ReplicatorStatus => {
      const s = raftStatus(core)
      return {
        nodeId,
        role: s.role,
        term: s.term,
        leaderId: s.leaderId,
        commitIndex: s.commitIndex,
        appliedIndex: applied,
        lastIndex: s.lastIndex,
        snapshotIndex: s.snapshotIndex
      }
    })

    return MetadataReplicator.of({ propose, linearizable, leaderLocal, status, clock: replicatedClock.read })
  })

export const RaftReplicator = (
  options: RaftReplicatorOptions
): Layer.Layer<
  MetadataReplicator,
  IoError | Corruption,
  WriteAheadLog | SnapshotStore | MetadataService | RaftTransport | EndpointResolver
> =>
  Layer.scoped(MetadataReplicator, make(options))
