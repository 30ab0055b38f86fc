/**
 * The state of one Raft node as the core keeps it, and the outbox one step fills. `step`
 * mutates this in place; outside src/raft treat it as opaque and read it through the
 * accessors in core.ts.
 */
import type { RaftLog } from "./log.ts"
import type { Prng } from "./prng.ts"
import type { Progress } from "./progress.ts"
import { quorumSize } from "./quorum.ts"
import type { ReadQueue } from "./readIndex.ts"
import type { IncomingSnapshot } from "./snapshotTransfer.ts"
import type {
  HardState, Message, NodeId, ProposalResult, RaftConfig, ReadResult, Role, Snapshot, SnapshotChunk
} from "./types.ts"

/** What one step produced besides the state change; collected into an Output at its end. */
export interface Outbox {
  messages: Array<Message>
  proposals: Array<ProposalResult>
  reads: Array<ReadResult>
  /** Lowest log index written in this step (Infinity: none): entries from here on are output. */
  writtenFrom: number
  snapshot: Snapshot | null
  snapshotChunks: Array<SnapshotChunk>
  /** A follower needs a snapshot and none is held. */
  snapshotWanted: boolean
}

export interface RaftState {
  readonly config: RaftConfig
  /** The other voters. */
  readonly peers: ReadonlyArray<NodeId>
  role: Role
  term: number
  votedFor: NodeId | null
  leaderId: NodeId | null
  log: RaftLog
  /**
   * The snapshot this node streams as leader to followers behind its log (recovered, offered by
   * the layer, or received), or null: then the layer is asked for one when a follower needs it.
   */
  snapshot: Snapshot | null
  /** Ticks since the last election reset; for a leader, since the last check-quorum. */
  electionElapsed: number
  heartbeatElapsed: number
  /** This term's election timeout, drawn from [electionTicks, 2 * electionTicks). */
  electionTimeout: number
  readonly prng: Prng
  /** (Pre-)votes received in the current campaign. */
  votes: Map<NodeId, boolean>
  /** Leader only: one per peer. */
  progress: Map<NodeId, Progress>
  reads: ReadQueue
  /** Follower: a snapshot being received in chunks. */
  incoming: IncomingSnapshot | null
  /** The hard state last put in an Output, to emit only changes. */
  emittedHardState: HardState
  out: Outbox
}

export const emptyOutbox = (): Outbox => ({
  messages: [],
  proposals: [],
  reads: [],
  writtenFrom: Infinity,
  snapshot: null,
  snapshotChunks: [],
  snapshotWanted: false
})

export const quorum = (state: RaftState): number => quorumSize(state.config.voters.length)

type Envelope = "from" | "to" | "term"
type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never

/** Queue a message to `to` from this node, at this node's term unless `term` is given. */
export const send = (
  state: RaftState,
  to: NodeId,
  body: DistributiveOmit<Message, Envelope>,
  term: number = state.term
): void => {
  state.out.messages.push({ ...body, from: state.config.id, to, term } as Message)
}
