/**
 * RaftTransport: carries Raft messages between the voters of one cluster, best effort, which
 * is all Raft asks of a network. `send` never fails and never waits for a peer: a message
 * to an unreachable or overloaded peer is dropped, and Raft's heartbeats and retries repair
 * the gap. Messages addressed to this node arrive in `incoming`, in no guaranteed order, for
 * its one consumer (the replicator).
 */
import { Context, type Effect } from "effect"
import type { Inbox } from "../lib/inbox.ts"
import type { Message } from "../domain/raftMessages.ts"

export interface RaftTransportShape {
  /** Hand `messages` to the network, each for its `to`, in order per peer; returns at once. */
  readonly send: (messages: ReadonlyArray<Message>) => Effect.Effect<void>
  readonly incoming: Inbox<Message>
}

export class RaftTransport extends Context.Tag("sandstore/RaftTransport")<RaftTransport, RaftTransportShape>() {}
