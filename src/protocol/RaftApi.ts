/**
 * The peer API between Raft voters: one rpc that carries the Raft messages a sender had queued
 * for one peer, in order (one call per batch: the cost of an rpc is paid once for all of
 * them). Every variant of `Message` (src/domain/raftMessages.ts) has a Schema here, so a malformed
 * message from the network is rejected at decode and never reaches the core. Senders call it
 * with `discard: true`: Raft needs no reply to a message (answers are messages of their own),
 * and not waiting lets many batches be in flight on one connection. It is annotated OneWay, so
 * the server sends no reply either.
 */
import { Rpc, RpcGroup } from "@effect/rpc"
import { Schema } from "effect"
import { OneWay } from "./OneWay.ts"
import { payload } from "./payload.ts"
import type { Message } from "../domain/raftMessages.ts"

const Index = Schema.NonNegativeInt
const Term = Schema.NonNegativeInt
const NodeId = Schema.String

const envelope = { from: NodeId, to: NodeId, term: Term }

export const RaftEntry = Schema.Struct({
  index: Index,
  term: Term,
  type: Schema.Literal("normal", "noop"),
  data: Schema.Uint8ArrayFromSelf
})

export const PreVote = Schema.TaggedStruct("PreVote", { ...envelope, lastLogIndex: Index, lastLogTerm: Term })
export const PreVoteResponse = Schema.TaggedStruct("PreVoteResponse", { ...envelope, granted: Schema.Boolean })
export const RequestVote = Schema.TaggedStruct("RequestVote", { ...envelope, lastLogIndex: Index, lastLogTerm: Term })
export const RequestVoteResponse = Schema.TaggedStruct("RequestVoteResponse", { ...envelope, granted: Schema.Boolean })
export const AppendEntries = Schema.TaggedStruct("AppendEntries", {
  ...envelope,
  prevLogIndex: Index,
  prevLogTerm: Term,
  entries: Schema.Array(RaftEntry),
  leaderCommit: Index,
  readContext: Schema.NonNegativeInt
})
export const AppendEntriesResponse = Schema.TaggedStruct("AppendEntriesResponse", {
  ...envelope,
  success: Schema.Boolean,
  matchIndex: Index,
  conflictTerm: Term,
  conflictIndex: Index,
  readContext: Schema.NonNegativeInt
})
export const InstallSnapshot = Schema.TaggedStruct("InstallSnapshot", {
  ...envelope,
  snapshotIndex: Index,
  snapshotTerm: Term,
  offset: Schema.NonNegativeInt,
  totalBytes: Schema.NonNegativeInt,
  data: Schema.Uint8ArrayFromSelf,
  done: Schema.Boolean
})
export const InstallSnapshotResponse = Schema.TaggedStruct("InstallSnapshotResponse", {
  ...envelope,
  snapshotIndex: Index,
  nextOffset: Schema.NonNegativeInt,
  done: Schema.Boolean
})

export const RaftMessage: Schema.Schema<Message> = Schema.Union(
  PreVote, PreVoteResponse, RequestVote, RequestVoteResponse,
  AppendEntries, AppendEntriesResponse, InstallSnapshot, InstallSnapshotResponse
)

/** Most messages in one call; a sender splits a longer backlog. */
export const MAX_MESSAGES_PER_CALL = 256

export class Deliver extends Rpc.make("RaftMessages", {
  payload: payload({ messages: Schema.Array(RaftMessage).pipe(Schema.maxItems(MAX_MESSAGES_PER_CALL)) })
}) {}

export class RaftApi extends RpcGroup.make(Deliver.annotate(OneWay, true)) {}
