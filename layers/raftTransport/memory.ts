/**
 * An in-memory network for Raft nodes in one process, created per test or simulation. It
 * hands out a RaftTransport per node id and injects the faults Raft must survive: cut links
 * (partitions), isolated nodes, a dropped fraction of messages and delays that reorder them.
 * Drops and delays draw from the network's own seeded Random and delays sleep on the Clock,
 * so a run under TestClock with the same seed sees the same faults.
 *
 * A node attached through `transport(id)` receives while the layer's scope is open; when it
 * closes (the node crashed or stopped), messages to it are dropped, and a restarted node
 * attaches again with an empty inbox, as after a real restart.
 */
import { Duration, Effect, FiberSet, Layer, Random, type Scope } from "effect"
import { Inbox } from "../../src/lib/inbox.ts"
import type { Message, NodeId } from "../../src/domain/raftMessages.ts"
import { RaftTransport } from "../../src/services/RaftTransport.ts"

export interface MemoryNetworkOptions {
  /** Seeds drops and delays (default 1). */
  readonly seed?: number
  /** Messages waiting in a node's inbox before further ones are dropped (default 10 000). */
  readonly inboxCapacity?: number
}

export interface DelayRange {
  readonly min: Duration.DurationInput
  readonly max: Duration.DurationInput
}

export interface MemoryNetworkStats {
  readonly delivered: number
  readonly dropped: number
  /** Delivered messages by message tag. */
  readonly deliveredByTag: Readonly<Record<string, number>>
}

export interface MemoryNetwork {
  /** The transport of node `nodeId`, attached for the life of the layer's scope. */
  readonly transport: (nodeId: NodeId) => Layer.Layer<RaftTransport>
  /** Cut the link between `a` and `b`, both directions. */
  readonly cut: (a: NodeId, b: NodeId) => Effect.Effect<void>
  /** Restore the link between `a` and `b`. */
  readonly mend: (a: NodeId, b: NodeId) => Effect.Effect<void>
  /** Cut every link of `nodeId` until `rejoin`. */
  readonly isolate: (nodeId: NodeId) => Effect.Effect<void>
  readonly rejoin: (nodeId: NodeId) => Effect.Effect<void>
  /** Restore every link and node, and stop dropping and delaying. */
  readonly heal: Effect.Effect<void>
  /** Drop this fraction (0..1) of the messages on working links. */
  readonly setDropRate: (fraction: number) => Effect.Effect<void>
  /** Deliver each message after a uniformly drawn delay in the range (reordering them); null: at once. */
  readonly setDelay: (range: DelayRange | null) => Effect.Effect<void>
  readonly stats: Effect.Effect<MemoryNetworkStats>
}

const linkKey = (from: NodeId, to: NodeId) => `${from}\u0000${to}`

export const makeMemoryNetwork = (options: MemoryNetworkOptions = {}): Effect.Effect<MemoryNetwork, never, Scope.Scope> =>
  Effect.gen(function*() {
    const random = Random.make(options.seed ?? 1)
    const inboxCapacity = options.inboxCapacity ?? 10_000
    // Deliveries in flight (delayed): interrupted when the network's scope closes.
    const inFlight = yield* FiberSet.make<void>()

    const inboxes = new Map<NodeId, Inbox<Message>>()
    const cutLinks = new Set<string>()
    const isolated = new Set<NodeId>()
    let dropRate = 0
    let delay: { readonly min: number; readonly max: number } | null = null
    let delivered = 0
    let dropped = 0
    const deliveredByTag: Record<string, number> = {}

    const linkUp = (from: NodeId, to: NodeId) =>
      !isolated.has(from) && !isolated.has(to) && !cutLinks.has(linkKey(from, to))

    /** The receiving end: the link and the inbox are checked on arrival, not on departure. */
    const deliver = (message: Message) =>
      Effect.suspend(() => {
        const inbox = inboxes.get(message.to)
        if (inbox === undefined || !linkUp(message.from, message.to)) {
          dropped++
          return Effect.void
        }
        if (!inbox.offer(message)) {
          dropped++
          return Effect.void
        }
        delivered++
        deliveredByTag[message._tag] = (deliveredByTag[message._tag] ?? 0) + 1
        return Effect.void
      })

    const sendOne = (message: Message): Effect.Effect<void> =>
      Effect.gen(function*() {
        if (!linkUp(message.from, message.to)) {
          dropped++
          return
        }
        if (dropRate > 0 && (yield* random.next) < dropRate) {
          dropped++
          return
        }
        if (delay === null) return yield* deliver(message)
        const millis = delay.min + (yield* random.next) * (delay.max - delay.min)
        yield* FiberSet.run(inFlight, Effect.zipRight(Effect.sleep(Duration.millis(millis)), deliver(message)))
      })

    const send = (messages: ReadonlyArray<Message>) => Effect.forEach(messages, sendOne, { discard: true })

    const transport = (nodeId: NodeId): Layer.Layer<RaftTransport> =>
      Layer.scoped(
        RaftTransport,
        Effect.gen(function*() {
          const inbox = yield* Effect.acquireRelease(
            Effect.sync(() => {
              const inbox = new Inbox<Message>({ capacity: inboxCapacity, overflow: "dropping" })
              inboxes.set(nodeId, inbox)
              return inbox
            }),
            (inbox) =>
              Effect.sync(() => {
                if (inboxes.get(nodeId) === inbox) inboxes.delete(nodeId)
                inbox.shutdown()
              })
          )
          return RaftTransport.of({ send, incoming: inbox })
        })
      )

    const update = (change: () => void) => Effect.sync(change)

    return {
      transport,
      cut: (a, b) => update(() => { cutLinks.add(linkKey(a, b)).add(linkKey(b, a)) }),
      mend: (a, b) => update(() => { cutLinks.delete(linkKey(a, b)); cutLinks.delete(linkKey(b, a)) }),
      isolate: (nodeId) => update(() => { isolated.add(nodeId) }),
      rejoin: (nodeId) => update(() => { isolated.delete(nodeId) }),
      heal: update(() => {
        cutLinks.clear()
        isolated.clear()
        dropRate = 0
        delay = null
      }),
      setDropRate: (fraction) => update(() => { dropRate = Math.min(1, Math.max(0, fraction)) }),
      setDelay: (range) =>
        update(() => {
          delay = range === null ? null : {
            min: Duration.toMillis(range.min),
            max: Math.max(Duration.toMillis(range.min), Duration.toMillis(range.max))
          }
        }),
      stats: Effect.sync(() => ({ delivered, dropped, deliveredByTag: { ...deliveredByTag } }))
    } satisfies MemoryNetwork
  })
