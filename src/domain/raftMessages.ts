/**
 * What Raft voters send each other (the peer protocol's messages, checked by the Schemas in
 * src/protocol/RaftApi.ts) and the log entries they carry: the vocabulary shared by the Raft
 * core (src/raft) and the RaftTransport contract, so the contract names no implementation.
 */

export type NodeId = string

/** "noop" entries are appended by a new leader at the start of its term; they carry no data. */
export interface Entry {
  readonly index: number
  readonly term: number
  readonly type: "normal" | "noop"
  readonly data: Uint8Array
}

export interface Envelope {
  readonly from: NodeId
  readonly to: NodeId
  readonly term: number
}

export type Message =
  /** `term` is the term the sender would campaign in; a pre-vote changes no one's term. */
  | Envelope & { readonly _tag: "PreVote"; readonly lastLogIndex: number; readonly lastLogTerm: number }
  | Envelope & { readonly _tag: "PreVoteResponse"; readonly granted: boolean }
  | Envelope & { readonly _tag: "RequestVote"; readonly lastLogIndex: number; readonly lastLogTerm: number }
  | Envelope & { readonly _tag: "RequestVoteResponse"; readonly granted: boolean }
  /** Also the heartbeat (no entries). `readContext` rides along so ReadIndex can be confirmed by a quorum of acks. */
  | Envelope & {
    readonly _tag: "AppendEntries"
    readonly prevLogIndex: number
    readonly prevLogTerm: number
    readonly entries: ReadonlyArray<Entry>
    readonly leaderCommit: number
    readonly readContext: number
  }
  /**
   * success: `matchIndex` is the last index known to match. Failure: `conflictTerm` and
   * `conflictIndex` let the leader skip a whole term at once (fast backtracking).
   */
  | Envelope & {
    readonly _tag: "AppendEntriesResponse"
    readonly success: boolean
    readonly matchIndex: number
    readonly conflictTerm: number
    readonly conflictIndex: number
    readonly readContext: number
  }
  /** One chunk of a snapshot; resumable: the receiver answers with the offset it wants next. */
  | Envelope & {
    readonly _tag: "InstallSnapshot"
    readonly snapshotIndex: number
    readonly snapshotTerm: number
    readonly offset: number
    readonly totalBytes: number
    readonly data: Uint8Array
    readonly done: boolean
  }
  | Envelope & {
    readonly _tag: "InstallSnapshotResponse"
    readonly snapshotIndex: number
    readonly nextOffset: number
    readonly done: boolean
  }
