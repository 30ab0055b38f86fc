/**
 * RaftTransport over the node network: messages travel as RaftApi calls through the
 * Communicator to the address the EndpointResolver gives for each peer.
 *
 * Sending never blocks the Raft loop: each peer has a bounded outbound queue that drops its
 * OLDEST message on overflow (Raft resends what matters; fresh heartbeats and appends are
 * worth more than stale ones) and one sender fiber that writes everything queued, in order,
 * as one call on one connection with `discard: true`, so many are in flight at once
 * (pipelining) and a slow or dead peer only fills its own queue, and `urgent: true`: the call
 * already batches what queued, and the peer's answer is on a proposal's path.
 *
 * Receiving: the node's RPC server serves RaftApi with `RaftApiHandlers`, which puts each
 * message into this node's inbox (`RaftInbox`, the write side of `RaftTransport.incoming`).
 * Provide both from the same `RaftTransportRpc` layer value, so they share one inbox.
 */
import { Context, Effect, Layer, Schedule, Scope } from "effect"
import { Inbox } from "../../src/lib/inbox.ts"
import { MAX_MESSAGES_PER_CALL, RaftApi } from "../../src/protocol/RaftApi.ts"
import type { Message, NodeId } from "../../src/domain/raftMessages.ts"
import { Communicator, withCallOptions } from "../../src/services/Communicator.ts"
import { EndpointResolver } from "../../src/services/EndpointResolver.ts"
import { RaftTransport } from "../../src/services/RaftTransport.ts"

export interface RaftTransportRpcOptions {
  /** Messages waiting for one peer before the oldest is dropped (default 1024). */
  readonly peerQueueCapacity?: number
  /** Received messages not yet taken by the Raft loop before new ones are dropped (default 10 000). */
  readonly inboxCapacity?: number
}

/** The write side of this node's Raft inbox, for the RaftApi handlers. */
export class RaftInbox extends Context.Tag("sandstore/RaftInbox")<RaftInbox, Inbox<Message>>() {}

/** How often a sender retries resolving a peer the resolver does not know (yet). */
const resolveRetry = Schedule.spaced("1 second")

const make = (options: RaftTransportRpcOptions) =>
  Effect.gen(function*() {
    const peerQueueCapacity = Math.max(1, options.peerQueueCapacity ?? 1024)
    const communicator = yield* Communicator
    const resolver = yield* EndpointResolver
    const scope = yield* Effect.scope
    const inbox = yield* Effect.acquireRelease(
      Effect.sync(() => new Inbox<Message>({ capacity: Math.max(1, options.inboxCapacity ?? 10_000), overflow: "dropping" })),
      (inbox) => Effect.sync(() => inbox.shutdown())
    )

    /** Connect to `peer` and write its queue's messages, in order, for the life of the layer. */
    const runSender = (peer: NodeId, queue: Inbox<Message>) =>
      Effect.gen(function*() {
        const address = yield* resolver.resolve(peer).pipe(Effect.retry(resolveRetry))
        const client = yield* communicator.client(RaftApi, address)
        const sendNow = withCallOptions(client.RaftMessages, { discard: true, urgent: true })
        while (true) {
          const messages = yield* queue.takeAll
          for (let start = 0; start < messages.length; start += MAX_MESSAGES_PER_CALL) {
            const batch = messages.slice(start, start + MAX_MESSAGES_PER_CALL)
            // While the peer is unreachable the call fails at once: the messages are dropped.
            yield* Effect.exit(sendNow({ messages: batch }))
          }
        }
      }).pipe(Effect.scoped)

    const peers = new Map<NodeId, Inbox<Message>>()
    const creating = yield* Effect.makeSemaphore(1)

    /** Start a queue and its sender for every peer of `messages` that has none yet. */
    const startSenders = (messages: ReadonlyArray<Message>) =>
      creating.withPermits(1)(Effect.forEach(new Set(messages.map((message) => message.to)), (peer) =>
        Effect.gen(function*() {
          if (peers.has(peer)) return
          const queue = new Inbox<Message>({ capacity: peerQueueCapacity, overflow: "sliding" })
          yield* Scope.addFinalizer(scope, Effect.sync(() => queue.shutdown()))
          yield* Effect.forkIn(runSender(peer, queue), scope)
          peers.set(peer, queue)
        }), { discard: true }))

    /** Queue each message for its peer: one array push per message once the peer's sender runs. */
    const send = (messages: ReadonlyArray<Message>): Effect.Effect<void> =>
      Effect.suspend(() => {
        for (let k = 0; k < messages.length; k++) {
          const queue = peers.get(messages[k]!.to)
          if (queue === undefined) return Effect.zipRight(startSenders(messages.slice(k)), send(messages.slice(k)))
          queue.offer(messages[k]!)
        }
        return Effect.void
      })

    return Context.make(RaftTransport, RaftTransport.of({ send, incoming: inbox })).pipe(
      Context.add(RaftInbox, inbox)
    )
  })

export const RaftTransportRpc = (
  options: RaftTransportRpcOptions = {}
): Layer.Layer<RaftTransport | RaftInbox, never, Communicator | EndpointResolver> =>
  Layer.scopedContext(make(options))

/** RaftApi's handlers for the node's RPC server: every message received goes into the inbox. */
export const RaftApiHandlers = RaftApi.toLayer(
  Effect.map(RaftInbox, (inbox) => ({
    RaftMessages: ({ messages }: { readonly messages: ReadonlyArray<Message> }) =>
      Effect.sync(() => {
        for (const message of messages) inbox.offer(message)
      })
  }))
)
