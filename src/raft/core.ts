/**
 * The Raft core: a deterministic state machine in the style of etcd's raft. `step` takes one
 * input (a tick, a message, a proposal, a read, or the layer's report that something is
 * durable or applied) and returns what the layer must do: persist, send, apply (see the Output
 * contract in types.ts). It does no I/O, reads no clock and draws randomness only from its
 * seeded PRNG, so a run is a pure function of its inputs.
 *
 * Beyond the paper: pre-vote, check-quorum with a leader lease, a no-op entry per new leader,
 * fast backtracking by term, batched and pipelined AppendEntries, ReadIndex, and chunked,
 * resumable InstallSnapshot. Committed entries are handed out for apply only once they are
 * durable here, and a leader counts its own log toward commitment only once `Persisted`.
 *
 * `Persisted` names the last entry of an Output once that Output is durable; one report may
 * cover several Outputs made durable together (name the last entry of the latest of them).
 * Reports are matched to Outputs oldest first. A snapshot in an Output needs no `Persisted`.
 */
import { becomeFollower, handleVoteRequest, handleVoteResponse, inLease, tick } from "./election.ts"
import { handleAppendEntries, handleInstallSnapshot } from "./follower.ts"
import {
  appendAsLeader, broadcastAppend, handleAppendResponse, handleSnapshotResponse, maybeCommit, requestReads,
  restartTransfers
} from "./leader.ts"
import {
  compact as compactLog, entriesBetween, firstIndex, lastIndex as logLastIndex, lastTerm, markPersisted, type RaftLog,
  recordWrite, termAt
} from "./log.ts"
import { makePrng } from "./prng.ts"
import { emptyReadQueue } from "./readIndex.ts"
import { emptyOutbox, type RaftState, send } from "./state.ts"
import type {
  Entry, HardState, Input, Message, NodeId, Output, RaftConfig, Recovered, Role, Snapshot
} from "./types.ts"

export type { RaftState } from "./state.ts"

/**
 * A node from what it recovered from disk. `applied` is the state machine's own applied index:
 * committed entries above it are output for apply again on the first step, and none below it.
 * If `applied` is below the recovered snapshot the layer must have restored the state machine
 * from that snapshot first.
 */
export const createRaft = (config: RaftConfig, recovered: Recovered, applied: number): RaftState => {
  const base = recovered.snapshot ?? recovered.compactedTo
  const snapshotIndex = base?.index ?? 0
  const entries = recovered.entries.filter((entry) => entry.index > snapshotIndex)
  const log: RaftLog = {
    snapshotIndex,
    snapshotTerm: base?.term ?? 0,
    entries,
    stable: 0,
    commit: 0,
    applying: 0,
    applied: 0,
    pendingWrites: []
  }
  const last = logLastIndex(log)
  const appliedIndex = Math.max(applied, snapshotIndex)
  log.stable = last
  // The applied index counts as committed knowledge too (the hard state's commit may lag it).
  log.commit = Math.min(Math.max(recovered.hardState.commit, appliedIndex), last)
  log.applying = appliedIndex
  log.applied = appliedIndex
  const ticks = Math.max(1, config.electionTicks)
  const state: RaftState = {
    config,
    peers: config.voters.filter((voter) => voter !== config.id),
    role: "follower",
    term: recovered.hardState.term,
    votedFor: recovered.hardState.votedFor,
    leaderId: null,
    log,
    snapshot: recovered.snapshot,
    electionElapsed: 0,
    heartbeatElapsed: 0,
    electionTimeout: ticks,
    prng: makePrng(config.seed, config.id),
    votes: new Map(),
    progress: new Map(),
    reads: emptyReadQueue(),
    incoming: null,
    emittedHardState: recovered.hardState,
    out: emptyOutbox()
  }
  becomeFollower(state, state.term, null)
  return state
}

/**
 * Advance `state` by one input and return what the layer must do. Mutates `state` in place
 * (no copy per step: the hot path allocates only the Output); the caller owns `state` and must
 * not share it across fibers.
 */
export const step = (state: RaftState, input: Input): Output => {
  state.out = emptyOutbox()
  switch (input._tag) {
    case "Tick":
      tick(state)
      break
    case "Receive":
      receive(state, input.message)
      break
    case "Propose":
      propose(state, input.id, input.data)
      break
    case "ReadIndex":
      if (state.role === "leader") requestReads(state, input.ids)
      else for (const id of input.ids) state.out.reads.push({ _tag: "ReadRejected", id, leaderId: state.leaderId })
      break
    case "Persisted":
      persisted(state, input.index, input.term)
      break
    case "Applied":
      state.log.applied = Math.max(state.log.applied, Math.min(input.index, state.log.applying))
      break
    case "Compact":
      compact(state, input.index, input.term)
      break
    case "OfferSnapshot":
      offerSnapshot(state, input.snapshot)
      break
  }
  return collectOutput(state)
}

const isFromLeader = (message: Message): boolean =>
  message._tag === "AppendEntries" || message._tag === "InstallSnapshot"

const receive = (state: RaftState, message: Message): void => {
  if (message.to !== state.config.id || message.from === state.config.id) return
  if (!state.config.voters.includes(message.from)) return
  if (message.term > state.term) {
    const isVoteRequest = message._tag === "PreVote" || message._tag === "RequestVote"
    if (isVoteRequest && inLease(state)) {
      // We heard from a live leader within an election timeout: do not help depose it.
      return rejectVote(state, message)
    }
    const keepsTerm = message._tag === "PreVote" || (message._tag === "PreVoteResponse" && message.granted)
    if (!keepsTerm) becomeFollower(state, message.term, isFromLeader(message) ? message.from : null)
  } else if (message.term < state.term) {
    return answerStale(state, message)
  }
  switch (message._tag) {
    case "PreVote":
    case "RequestVote":
      return handleVoteRequest(state, message)
    case "PreVoteResponse":
    case "RequestVoteResponse":
      return handleVoteResponse(state, message)
    case "AppendEntries":
    case "InstallSnapshot":
      if (state.role === "leader") return
      if (state.role !== "follower") becomeFollower(state, state.term, message.from)
      state.leaderId = message.from
      state.electionElapsed = 0
      return message._tag === "AppendEntries" ? handleAppendEntries(state, message) : handleInstallSnapshot(state, message)
    case "AppendEntriesResponse":
      if (state.role === "leader") handleAppendResponse(state, message)
      return
    case "InstallSnapshotResponse":
      if (state.role === "leader") handleSnapshotResponse(state, message)
      return
  }
}

const rejectVote = (state: RaftState, message: Extract<Message, { _tag: "PreVote" | "RequestVote" }>): void =>
  send(state, message.from, {
    _tag: message._tag === "PreVote" ? "PreVoteResponse" : "RequestVoteResponse",
    granted: false
  })

/** A message from an older term: tell requesters our term, so a deposed leader steps down and a stale campaigner catches up. */
const answerStale = (state: RaftState, message: Message): void => {
  switch (message._tag) {
    case "PreVote":
    case "RequestVote":
      return rejectVote(state, message)
    case "AppendEntries":
      return send(state, message.from, {
        _tag: "AppendEntriesResponse",
        success: false,
        matchIndex: 0,
        conflictIndex: 0,
        conflictTerm: 0,
        readContext: message.readContext
      })
    case "InstallSnapshot":
      return send(state, message.from, {
        _tag: "InstallSnapshotResponse",
        snapshotIndex: message.snapshotIndex,
        nextOffset: 0,
        done: false
      })
    default:
      return
  }
}

const propose = (state: RaftState, id: number, data: ReadonlyArray<Uint8Array>): void => {
  if (state.role !== "leader") {
    state.out.proposals.push({ _tag: "Rejected", id, leaderId: state.leaderId })
    return
  }
  const firstIndex = appendAsLeader(state, data.map((bytes) => ({ type: "normal" as const, data: bytes })))
  state.out.proposals.push({ _tag: "Accepted", id, firstIndex, term: state.term })
  broadcastAppend(state, false)
}

const persisted = (state: RaftState, index: number, term: number): void => {
  // The new commit index rides on the next AppendEntries or heartbeat (see afterMatchAdvanced).
  if (markPersisted(state.log, index, term) && state.role === "leader" && maybeCommit(state)) {
    broadcastAppend(state, false)
  }
}

/**
 * The lowest index of a snapshot a leader is sending to a live follower (heard from within the
 * last election timeout or two), or Infinity. The log is kept after it: once that follower has
 * installed the snapshot it catches up from the log. Compacting past it made the snapshot
 * useless before it arrived, and at a large namespace (a transfer outlasting the interval
 * between compactions) the leader encoded and restarted snapshots over and over. A follower
 * gone silent stops holding the log back.
 */
const keptForTransfers = (state: RaftState): number => {
  let kept = Number.POSITIVE_INFINITY
  if (state.role !== "leader") return kept
  for (const progress of state.progress.values()) {
    const live = progress.recentActive || progress.activeLastPeriod
    if (progress.mode === "snapshot" && progress.transfer !== null && live) kept = Math.min(kept, progress.transfer.snapshot.index)
  }
  return kept
}

const compact = (state: RaftState, asked: number, askedTerm: number): void => {
  const log = state.log
  if (asked <= log.snapshotIndex || asked > log.applied || termAt(log, asked) !== askedTerm) return
  const index = Math.min(asked, keptForTransfers(state))
  const term = termAt(log, index)
  if (index <= log.snapshotIndex || term === undefined) return
  compactLog(log, { index, term })
  if (state.snapshot !== null && state.snapshot.index < index) state.snapshot = null
  if (state.role === "leader") restartTransfers(state)
}

const offerSnapshot = (state: RaftState, snapshot: Snapshot): void => {
  const log = state.log
  if (snapshot.index < log.snapshotIndex || snapshot.index > log.applied) return
  if (termAt(log, snapshot.index) !== snapshot.term) return
  if (state.snapshot !== null && state.snapshot.index >= snapshot.index) return
  state.snapshot = snapshot
  if (state.role === "leader") restartTransfers(state)
}

const collectOutput = (state: RaftState): Output => {
  const log = state.log
  const out = state.out
  const last = logLastIndex(log)
  let hardState: HardState | null = null
  const emitted = state.emittedHardState
  if (emitted.term !== state.term || emitted.votedFor !== state.votedFor || emitted.commit !== log.commit) {
    hardState = { term: state.term, votedFor: state.votedFor, commit: log.commit }
    state.emittedHardState = hardState
  }
  const entries = out.writtenFrom <= last ? entriesBetween(log, out.writtenFrom, last) : []
  if (entries.length > 0) recordWrite(log, out.writtenFrom)
  const applyTo = Math.min(log.commit, log.stable)
  const committed = applyTo > log.applying ? entriesBetween(log, log.applying + 1, applyTo) : []
  log.applying = Math.max(log.applying, applyTo)
  return {
    hardState,
    snapshotChunks: out.snapshotChunks,
    snapshot: out.snapshot,
    entries,
    messages: out.messages,
    committed,
    proposals: out.proposals,
    reads: out.reads,
    snapshotWanted: out.snapshotWanted
  }
}

export interface RaftStatus {
  readonly id: NodeId
  readonly role: Role
  readonly term: number
  readonly votedFor: NodeId | null
  readonly leaderId: NodeId | null
  readonly commitIndex: number
  /** What the layer reported applied. */
  readonly appliedIndex: number
  readonly firstIndex: number
  readonly lastIndex: number
  readonly lastTerm: number
  /** What the layer reported durable. */
  readonly stableIndex: number
  readonly snapshotIndex: number
  readonly snapshotTerm: number
}

export const raftStatus = (state: RaftState): RaftStatus => ({
  id: state.config.id,
  role: state.role,
  term: state.term,
  votedFor: state.votedFor,
  leaderId: state.leaderId,
  commitIndex: state.log.commit,
  appliedIndex: state.log.applied,
  firstIndex: firstIndex(state.log),
  lastIndex: logLastIndex(state.log),
  lastTerm: lastTerm(state.log),
  stableIndex: state.log.stable,
  snapshotIndex: state.log.snapshotIndex,
  snapshotTerm: state.log.snapshotTerm
})

/** The term of the entry at `index` (the snapshot's term at its index), or undefined when compacted or absent. */
export const logTerm = (state: RaftState, index: number): number | undefined => termAt(state.log, index)

/** Every entry above `index` (from the first uncompacted one), e.g. to rewrite a compacted log. */
export const entriesAfter = (state: RaftState, index: number): ReadonlyArray<Entry> =>
  entriesBetween(state.log, Math.max(index + 1, firstIndex(state.log)), logLastIndex(state.log))

/** Whether a follower is in the middle of receiving a snapshot (the layer keeps what arrived of it only meanwhile). */
export const receivingSnapshot = (state: RaftState): boolean => state.incoming !== null

/** The latest snapshot this node holds (recovered, compacted to, or installed from the leader). */
export const latestSnapshot = (state: RaftState): Snapshot | null => state.snapshot

/** Every snapshot the core may still ask the layer to send: the latest and those being sent to followers. */
export const snapshotsInUse = (state: RaftState): Array<Snapshot> => {
  const inUse = state.snapshot === null ? [] : [state.snapshot]
  for (const progress of state.progress.values()) {
    const sending = progress.mode === "snapshot" ? progress.transfer?.snapshot : undefined
    if (sending !== undefined && !inUse.some((s) => s.index === sending.index && s.term === sending.term)) inUse.push(sending)
  }
  return inUse
}

/** The leader's view of each follower, for status pages and tests. */
export const followerProgress = (
  state: RaftState
): ReadonlyArray<{ readonly id: NodeId; readonly match: number; readonly next: number; readonly mode: string }> =>
  state.role !== "leader"
    ? []
    : state.peers.map((id) => {
      const progress = state.progress.get(id)!
      return { id, match: progress.match, next: progress.next, mode: progress.mode }
    })
