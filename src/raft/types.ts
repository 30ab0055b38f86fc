/**
 * The vocabulary of the pure Raft core (src/raft/core.ts): entries, hard state, messages,
 * inputs and the output of one step. The core does no I/O, reads no clock and draws no
 * randomness except from the seed in its configuration; the layer around it
 * (layers/replicator/raft.ts) persists, sends, applies and ticks.
 *
 * Contract of an Output (as etcd's `Ready`): the layer must durably persist `hardState`,
 * `snapshot` and `entries` BEFORE sending `messages`, then report `Persisted`; it applies
 * `committed` in order (after installing `snapshot` if present) and reports `Applied`. It
 * writes `snapshotChunks` before sending `messages` too, and fills in the bytes of every
 * InstallSnapshot it sends (the core emits them empty: see `Snapshot`).
 */

import type { Entry, Message, NodeId } from "../domain/raftMessages.ts"

// The messages and entries are the peer protocol's (src/domain/raftMessages.ts).
export type { Entry, Envelope, Message, NodeId } from "../domain/raftMessages.ts"

export interface HardState {
  readonly term: number
  readonly votedFor: NodeId | null
  readonly commit: number
}

/**
 * A snapshot of the state machine after applying everything up to `index`, `size` bytes long.
 * The core never holds its bytes: the layer keeps them (a file) and attaches them to the
 * InstallSnapshot messages the core emits, and writes the chunks a follower receives (see
 * `SnapshotChunk`), as etcd's transport streams its snapshot files next to its raft library.
 */
export interface Snapshot {
  readonly index: number
  readonly term: number
  readonly size: number
}

/** Bytes of a snapshot being received, for the layer to write in order (offset 0 starts a new one). */
export interface SnapshotChunk {
  readonly index: number
  readonly term: number
  readonly offset: number
  readonly data: Uint8Array
  readonly totalBytes: number
  /**
   * This chunk completes the snapshot: the core installs it (`install`, and it is the Output's
   * `snapshot`), so the layer makes it durable, or the log already held that state and the
   * layer drops it.
   */
  readonly last: boolean
  readonly install: boolean
}

export type Role = "follower" | "precandidate" | "candidate" | "leader"

export type Input =
  | { readonly _tag: "Tick" }
  | { readonly _tag: "Receive"; readonly message: Message }
  /** Append `data` as normal entries if leader; `id` correlates the result in Output.proposals. */
  | { readonly _tag: "Propose"; readonly id: number; readonly data: ReadonlyArray<Uint8Array> }
  /**
   * Ask for linearizable read points, one per id; each is answered in Output.reads once
   * leadership is confirmed. Reads asked together share one confirmation round.
   */
  | { readonly _tag: "ReadIndex"; readonly ids: ReadonlyArray<number> }
  /** The layer made entries up to `index` (of `term`) durable, as asked by an earlier Output. */
  | { readonly _tag: "Persisted"; readonly index: number; readonly term: number }
  /** The state machine has applied everything up to `index`. */
  | { readonly _tag: "Applied"; readonly index: number }
  /**
   * The state machine holds the state at `index` (<= applied) durably: discard the log up to
   * there. A snapshot offered for an older index is forgotten (it could not bring a follower
   * up to the log any more).
   */
  | { readonly _tag: "Compact"; readonly index: number; readonly term: number }
  /**
   * A snapshot of the state machine, at or after the compaction point and at most applied, to
   * send followers that are behind the log (the answer to `snapshotWanted`). Compacts nothing.
   */
  | { readonly _tag: "OfferSnapshot"; readonly snapshot: Snapshot }

export type ProposalResult =
  | { readonly _tag: "Accepted"; readonly id: number; readonly firstIndex: number; readonly term: number }
  | { readonly _tag: "Rejected"; readonly id: number; readonly leaderId: NodeId | null }

export type ReadResult =
  | { readonly _tag: "ReadReady"; readonly id: number; readonly index: number }
  | { readonly _tag: "ReadRejected"; readonly id: number; readonly leaderId: NodeId | null }

export interface Output {
  /** Persist before sending `messages` (null: unchanged). */
  readonly hardState: HardState | null
  /**
   * Chunks of a snapshot received from the leader, in order: write them where the snapshot
   * being received is kept (offset 0: start a new one, dropping a partial one).
   */
  readonly snapshotChunks: ReadonlyArray<SnapshotChunk>
  /**
   * A snapshot received from the leader, complete (its last chunk is in `snapshotChunks` of this
   * or an earlier Output): persist it, then restore the state machine from it.
   */
  readonly snapshot: Snapshot | null
  /** Persist before sending: they replace any persisted entries at the same or later indices. */
  readonly entries: ReadonlyArray<Entry>
  readonly messages: ReadonlyArray<Message>
  /** Committed entries to apply, in index order. */
  readonly committed: ReadonlyArray<Entry>
  readonly proposals: ReadonlyArray<ProposalResult>
  readonly reads: ReadonlyArray<ReadResult>
  /** A follower is behind the log and no snapshot is at hand to send it: offer one (OfferSnapshot). */
  readonly snapshotWanted: boolean
}

export interface RaftConfig {
  readonly id: NodeId
  /** Every voter, this node included. Fixed: quorum never follows a membership cache. */
  readonly voters: ReadonlyArray<NodeId>
  /** Ticks without hearing from a leader before campaigning: randomized in [electionTicks, 2*electionTicks). */
  readonly electionTicks: number
  readonly heartbeatTicks: number
  readonly maxEntriesPerMessage: number
  readonly maxBytesPerMessage: number
  /** AppendEntries in flight per follower before waiting for acks (pipelining depth). */
  readonly maxInflight: number
  readonly snapshotChunkBytes: number
  readonly preVote: boolean
  readonly checkQuorum: boolean
  /** Seeds the core's own PRNG (election timeout jitter). */
  readonly seed: number
}

/** What a node recovered from disk: its hard state, latest snapshot and the log after it. */
export interface Recovered {
  readonly hardState: HardState
  readonly snapshot: Snapshot | null
  /**
   * Where the log was compacted when no snapshot came with it (the state machine itself holds
   * the state at that index). A follower that needs a snapshot waits until the layer offers one.
   */
  readonly compactedTo?: { readonly index: number; readonly term: number }
  readonly entries: ReadonlyArray<Entry>
}
