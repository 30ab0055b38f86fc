/**
 * RaftTransport over the node network: messages travel as RaftApi calls through the
 * Communicator to the address the EndpointResolver gives for each peer.
 *
 * Sending never blocks the Raft loop. Once a peer's client exists, `send` writes a turn's
 * messages for it as one call, there and then, with `discard: true` (the call hands the frame
 * to the connection and returns: many are in flight at once, and a dead peer fails the call at
 * once, dropping its messages) and `urgent: true` (the call already batches a whole turn, and
 * the peer's answer is on a proposal's path). No fiber stands between the Raft loop and the
 * wire. Until the client exists (the peer's address is being resolved), a fiber of that peer
 * connects it while its messages wait in a bounded queue that drops the OLDEST on overflow
 * (Raft resends what matters), and writes them once connected.
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
  /** Messages waiting for a peer that is still being connected before the oldest is dropped (default 1024). */
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

    /** A peer: how to write to it once connected, and what waits until then. */
    interface Peer {
      write: ((messages: ReadonlyArray<Message>) => Effect.Effect<void>) | null
      readonly waiting: Inbox<Message>
    }
    const peers = new Map<NodeId, Peer>()

    /** One call per MAX_MESSAGES_PER_CALL messages; a call that fails (or dies encoding) drops its messages. */
    const writeTo = (call: (payload: { readonly messages: ReadonlyArray<Message> }) => Effect.Effect<void, unknown>) => {
      const callOnce = (messages: ReadonlyArray<Message>) => Effect.catchAllCause(call({ messages }), () => Effect.void)
      return (messages: ReadonlyArray<Message>): Effect.Effect<void> =>
        messages.length <= MAX_MESSAGES_PER_CALL
          ? callOnce(messages)
          : Effect.forEach(
            Array.from({ length: Math.ceil(messages.length / MAX_MESSAGES_PER_CALL) }, (_, k) =>
              messages.slice(k * MAX_MESSAGES_PER_CALL, (k + 1) * MAX_MESSAGES_PER_CALL)),
            callOnce,
            { discard: true }
          )
    }

    /** Resolve `peer`, open its client for the life of the layer, then write what waited and hand over to `send`. */
    const connect = (peer: NodeId, state: Peer) =>
      Effect.gen(function*() {
        const address = yield* resolver.resolve(peer).pipe(Effect.retry(resolveRetry))
        const client = yield* communicator.client(RaftApi, address).pipe(Scope.extend(scope))
        const write = writeTo(withCallOptions(client.RaftMessages, { discard: true, urgent: true }))
        // In one step: messages sent from now on go straight to the wire, after the waiting ones.
        yield* Effect.suspend(() => {
          state.write = write
          return write(state.waiting.shutdown())
        })
      })

    /** Write each peer's messages now, in order, one call per peer; queue them while it connects. */
    const send = (messages: ReadonlyArray<Message>): Effect.Effect<void> =>
      Effect.suspend(() => {
        const byPeer = new Map<NodeId, Array<Message>>()
        for (const message of messages) {
          const batch = byPeer.get(message.to)
          if (batch === undefined) byPeer.set(message.to, [message])
          else batch.push(message)
        }
        const effects: Array<Effect.Effect<unknown>> = []
        for (const [id, batch] of byPeer) {
          let state = peers.get(id)
          if (state === undefined) {
            state = { write: null, waiting: new Inbox<Message>({ capacity: peerQueueCapacity, overflow: "sliding" }) }
            peers.set(id, state)
            effects.push(Effect.forkIn(connect(id, state), scope))
          }
          if (state.write !== null) effects.push(state.write(batch))
          else state.waiting.offerAll(batch)
        }
        return effects.length === 0 ? Effect.void : effects.length === 1 ? Effect.asVoid(effects[0]!) : Effect.all(effects, { discard: true })
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
