/**
 * Roles and elections: randomized timeouts, pre-vote, votes, the leader's check-quorum and the
 * followers' leader lease. A node that heard from a leader within an election timeout refuses
 * to help depose it, so a node that was cut off cannot disrupt a healthy cluster when it
 * returns, and a pre-vote round means a failed campaign never bumps anyone's term.
 */
import { isUpToDate, lastIndex, lastTerm } from "./log.ts"
import { appendAsLeader, broadcastAppend, broadcastHeartbeat } from "./leader.ts"
import { nextInt } from "./prng.ts"
import { newProgress } from "./progress.ts"
import { tallyVotes } from "./quorum.ts"
import { drainReads, emptyReadQueue } from "./readIndex.ts"
import { quorum, type RaftState, send } from "./state.ts"
import type { Message, NodeId } from "./types.ts"

type VoteRequest = Extract<Message, { _tag: "PreVote" | "RequestVote" }>
type VoteResponse = Extract<Message, { _tag: "PreVoteResponse" | "RequestVoteResponse" }>

const resetElectionTimer = (state: RaftState): void => {
  state.electionElapsed = 0
  state.heartbeatElapsed = 0
  const ticks = Math.max(1, state.config.electionTicks)
  state.electionTimeout = ticks + nextInt(state.prng, ticks)
}

export const becomeFollower = (state: RaftState, term: number, leaderId: NodeId | null): void => {
  if (state.role === "leader") {
    for (const id of drainReads(state.reads)) state.out.reads.push({ _tag: "ReadRejected", id, leaderId })
  }
  if (term !== state.term) {
    state.term = term
    state.votedFor = null
  }
  state.role = "follower"
  state.leaderId = leaderId
  state.votes.clear()
  state.progress.clear()
  resetElectionTimer(state)
}

const becomeLeader = (state: RaftState): void => {
  state.role = "leader"
  state.leaderId = state.config.id
  state.votes.clear()
  state.reads = { ...emptyReadQueue(), context: state.reads.context }
  state.progress = new Map(state.peers.map((peer) => [peer, newProgress(lastIndex(state.log) + 1)]))
  resetElectionTimer(state)
  // Commit an entry of the new term as soon as possible: it commits everything before it,
  // and until it does this leader cannot know its commit index is current.
  appendAsLeader(state, [{ type: "noop", data: new Uint8Array(0) }])
  broadcastAppend(state, true)
}

const becomeCandidate = (state: RaftState): void => {
  state.term += 1
  state.votedFor = state.config.id
  state.role = "candidate"
  state.leaderId = null
  state.votes = new Map([[state.config.id, true]])
  resetElectionTimer(state)
  if (tallyVotes(state.config.voters, state.votes) === "won") return becomeLeader(state)
  for (const peer of state.peers) {
    send(state, peer, { _tag: "RequestVote", lastLogIndex: lastIndex(state.log), lastLogTerm: lastTerm(state.log) })
  }
}

const becomePreCandidate = (state: RaftState): void => {
  state.role = "precandidate"
  state.leaderId = null
  state.votes = new Map([[state.config.id, true]])
  resetElectionTimer(state)
  if (tallyVotes(state.config.voters, state.votes) === "won") return becomeCandidate(state)
  for (const peer of state.peers) {
    send(
      state,
      peer,
      { _tag: "PreVote", lastLogIndex: lastIndex(state.log), lastLogTerm: lastTerm(state.log) },
      state.term + 1
    )
  }
}

const campaign = (state: RaftState): void => {
  if (!state.config.voters.includes(state.config.id)) return
  if (state.config.preVote) becomePreCandidate(state)
  else becomeCandidate(state)
}

/**
 * Within an election timeout of hearing from a leader (or, for the leader, of its last
 * check-quorum) this node will not vote a new leader in: the leader lease.
 */
export const inLease = (state: RaftState): boolean =>
  state.config.checkQuorum && state.leaderId !== null && state.electionElapsed < state.config.electionTicks

export const tick = (state: RaftState): void => {
  if (state.role === "leader") return tickLeader(state)
  state.electionElapsed++
  if (state.electionElapsed >= state.electionTimeout) campaign(state)
}

const tickLeader = (state: RaftState): void => {
  state.heartbeatElapsed++
  state.electionElapsed++
  if (state.electionElapsed >= state.config.electionTicks) {
    state.electionElapsed = 0
    if (state.config.checkQuorum) {
      let active = 1
      for (const progress of state.progress.values()) {
        if (progress.recentActive) active++
        progress.activeLastPeriod = progress.recentActive
        progress.recentActive = false
      }
      if (active < quorum(state)) return becomeFollower(state, state.term, null)
    }
  }
  if (state.heartbeatElapsed >= state.config.heartbeatTicks) {
    state.heartbeatElapsed = 0
    broadcastHeartbeat(state)
  }
}

/** A PreVote or RequestVote at a term >= ours (older ones are answered by the caller). */
export const handleVoteRequest = (state: RaftState, message: VoteRequest): void => {
  const preVote = message._tag === "PreVote"
  const canVote = state.votedFor === message.from ||
    (state.votedFor === null && state.leaderId === null) ||
    (preVote && message.term > state.term)
  const granted = canVote && isUpToDate(state.log, message.lastLogIndex, message.lastLogTerm)
  if (preVote) {
    // A granted pre-vote answers at the term asked for; nothing here changes.
    send(state, message.from, { _tag: "PreVoteResponse", granted }, granted ? message.term : state.term)
    return
  }
  if (granted) {
    state.votedFor = message.from
    state.electionElapsed = 0
  }
  send(state, message.from, { _tag: "RequestVoteResponse", granted })
}

/** A vote answer; its term was already reconciled by the caller. */
export const handleVoteResponse = (state: RaftState, message: VoteResponse): void => {
  if (message._tag === "PreVoteResponse") {
    if (state.role !== "precandidate") return
    const expectedTerm = message.granted ? state.term + 1 : state.term
    if (message.term !== expectedTerm) return
  } else if (state.role !== "candidate" || message.term !== state.term) {
    return
  }
  state.votes.set(message.from, message.granted)
  switch (tallyVotes(state.config.voters, state.votes)) {
    case "won":
      return state.role === "precandidate" ? becomeCandidate(state) : becomeLeader(state)
    case "lost":
      return becomeFollower(state, state.term, null)
    case "pending":
      return
  }
}
