/**
 * The simulated network: a Communicator per host (node or client) whose RPC protocols carry
 * messages in memory. Every message sleeps on the Clock for a delay drawn from the network's
 * seeded Random, so a run under TestClock with one seed sees the same traffic every time.
 *
 * A connection behaves like TCP under faults: in order (unless reordering is on), and a lost
 * message breaks the whole connection (a reset), failing the client's in-flight requests with
 * an RpcClientError — which the SDK, the Raft transport and the chunk peers treat as
 * "unreachable" and retry. A cut link refuses new sends and breaks connections across it; a
 * listener that closes (its node crashed) breaks every connection to it. The next send after a
 * break opens a new connection, as a reconnecting socket does.
 *
 * Duplication models an at-least-once path: the server receives a request twice under two
 * RPC ids; the copy's response matches no caller and is ignored by the client.
 */
import { RpcClientError } from "@effect/rpc/RpcClientError"
import { type FromClientEncoded, type FromServerEncoded } from "@effect/rpc/RpcMessage"
import { RpcClient, RpcServer } from "@effect/rpc"
import { Clock, Duration, Effect, FiberSet, Layer, Mailbox, Random, type Scope } from "effect"
import { Unavailable } from "../domain/errors.ts"
import { Communicator } from "../services/Communicator.ts"

/** The message-level faults of working links. */
export interface LinkFaults {
  /** Fraction of messages lost (each loss resets its connection). */
  readonly dropRate: number
  /** Fraction of requests delivered twice. */
  readonly duplicateRate: number
  /** One-way delay in simulated milliseconds, drawn uniformly. */
  readonly minDelayMillis: number
  readonly maxDelayMillis: number
  /** Whether messages of one connection may overtake each other. */
  readonly reorder: boolean
}

export const CALM_LINKS: LinkFaults = { dropRate: 0, duplicateRate: 0, minDelayMillis: 0.5, maxDelayMillis: 2, reorder: false }

export interface SimNetworkStats {
  readonly delivered: number
  readonly dropped: number
  readonly duplicated: number
  readonly resets: number
}

export interface SimNetwork {
  /** The Communicator of `host`: it listens on and connects to "host:port" addresses. */
  readonly communicator: (host: string) => Layer.Layer<Communicator>
  /** Cut both directions between every host of `a` and every host of `b`. */
  readonly partition: (a: ReadonlyArray<string>, b: ReadonlyArray<string>) => Effect.Effect<void>
  /** Restore every link and calm every fault. */
  readonly heal: Effect.Effect<void>
  readonly setFaults: (faults: LinkFaults) => Effect.Effect<void>
  readonly stats: Effect.Effect<SimNetworkStats>
}

/** The host part of "host:port". */
const hostOf = (address: string) => {
  const colon = address.lastIndexOf(":")
  return colon < 0 ? address : address.slice(0, colon)
}

const linkKey = (from: string, to: string) => `${from}\u0000${to}`

/** Messages are copied as a serializer would, so no side shares a buffer with the other. */
const copy = (value: unknown): unknown => {
  if (value instanceof Uint8Array) return value.slice()
  if (Array.isArray(value)) return value.map(copy)
  if (value !== null && typeof value === "object" && Object.getPrototypeOf(value) === Object.prototype) {
    const out: Record<string, unknown> = {}
    for (const [key, field] of Object.entries(value)) out[key] = copy(field)
    return out
  }
  return value
}

/** One connection's life: a server-side client id, broken once either side sees a fault. */
interface Session {
  readonly serverClientId: number
  readonly listener: Listener
  broken: boolean
  lastToServer: number
  lastToClient: number
  /** The client side's response writer. */
  readonly toClient: (message: FromServerEncoded) => Effect.Effect<void>
  readonly onBreak: () => void
}

interface Listener {
  readonly host: string
  readonly sessions: Map<number, Session>
  nextClientId: number
  /** Set once RpcServer runs the protocol; until then deliveries wait in withRun's buffer. */
  readonly toServer: (clientId: number, message: FromClientEncoded) => Effect.Effect<void>
  readonly disconnects: Mailbox.Mailbox<number>
  closed: boolean
}

export const makeSimNetwork = (options: { readonly seed: number }): Effect.Effect<SimNetwork, never, Scope.Scope> =>
  Effect.gen(function*() {
    const random = Random.make(options.seed)
    const inFlight = yield* FiberSet.make<void>()
    const listeners = new Map<string, Listener>()
    const cut = new Set<string>()
    let faults = CALM_LINKS
    let delivered = 0
    let dropped = 0
    let duplicated = 0
    let resets = 0
    let duplicateIds = 0

    const linkUp = (from: string, to: string) => !cut.has(linkKey(from, to))

    const breakSession = (session: Session): Effect.Effect<void> =>
      Effect.suspend(() => {
        if (session.broken) return Effect.void
        session.broken = true
        resets++
        session.onBreak()
        session.listener.sessions.delete(session.serverClientId)
        return Effect.zipRight(
          session.listener.disconnects.offer(session.serverClientId),
          session.toClient({
            _tag: "ClientProtocolError",
            error: new RpcClientError({ reason: "Protocol", message: "simulated connection reset" })
          })
        )
      })

    /** Send one message across `session`: lost (reset), or delivered after its delay while the link holds. */
    const transmit = (
      session: Session,
      from: string,
      to: string,
      direction: "toServer" | "toClient",
      deliver: Effect.Effect<void>
    ) =>
      Effect.gen(function*() {
        if (session.broken) return
        if (!linkUp(from, to) || (faults.dropRate > 0 && (yield* random.next) < faults.dropRate)) {
          dropped++
          return yield* breakSession(session)
        }
        const now = yield* Clock.currentTimeMillis
        const span = Math.max(0, faults.maxDelayMillis - faults.minDelayMillis)
        let at = now + faults.minDelayMillis + (yield* random.next) * span
        // In order unless reordering: a message never lands before the one sent ahead of it.
        if (!faults.reorder) at = Math.max(at, direction === "toServer" ? session.lastToServer : session.lastToClient)
        if (direction === "toServer") session.lastToServer = at
        else session.lastToClient = at
        const land = Effect.suspend(() => {
          if (session.broken) return Effect.void
          if (!linkUp(from, to) || session.listener.closed) {
            dropped++
            return breakSession(session)
          }
          delivered++
          return deliver
        })
        yield* FiberSet.run(inFlight, Effect.zipRight(Effect.sleep(Duration.millis(at - now)), land))
      })

    const listen = (host: string) => (address: string) =>
      Effect.gen(function*() {
        if (hostOf(address) !== host) {
          return yield* new Unavailable({ message: `${host} cannot listen on ${address}: not its host` })
        }
        const existing = listeners.get(address)
        if (existing !== undefined && !existing.closed) {
          return yield* new Unavailable({ message: `cannot listen on ${address}: address in use` })
        }
        const disconnects = yield* Mailbox.make<number>()
        let listener!: Listener
        const protocol = yield* RpcServer.Protocol.make((writeRequest) =>
          Effect.sync(() => {
            listener = {
              host,
              sessions: new Map(),
              nextClientId: 0,
              // Lazy: withRun's writer acts when called, and a message must act only when it lands.
              toServer: (clientId, message) => Effect.suspend(() => writeRequest(clientId, message)),
              disconnects,
              closed: false
            }
            return {
              disconnects,
              send: (clientId: number, response: FromServerEncoded) =>
                Effect.suspend(() => {
                  const session = listener.sessions.get(clientId)
                  if (session === undefined) return Effect.void
                  const message = copy(response) as FromServerEncoded
                  return transmit(session, host, sessionClientHost.get(session) ?? "", "toClient", session.toClient(message))
                }),
              end: (_clientId: number) => Effect.void,
              clientIds: Effect.sync(() => new Set(listener.sessions.keys())),
              initialMessage: Effect.succeedNone,
              supportsAck: true,
              supportsTransferables: false,
              supportsSpanPropagation: false
            }
          })
        )
        listeners.set(address, listener)
        yield* Effect.addFinalizer(() =>
          Effect.suspend(() => {
            listener.closed = true
            if (listeners.get(address) === listener) listeners.delete(address)
            return Effect.forEach([...listener.sessions.values()], breakSession, { discard: true })
          })
        )
        return { protocol, address }
      })

    // Which host opened each session (for the link check of responses).
    const sessionClientHost = new WeakMap<Session, string>()

    const connect = (host: string) => (address: string) =>
      Effect.gen(function*() {
        const target = hostOf(address)
        let session: Session | undefined
        let closed = false
        const protocol = yield* RpcClient.Protocol.make((writeResponse) =>
          Effect.sync(() => {
            const open = (listener: Listener): Session => {
              const opened: Session = {
                serverClientId: listener.nextClientId++,
                listener,
                broken: false,
                lastToServer: 0,
                lastToClient: 0,
                // Lazy: RpcClient's response handler drops the request's entry as soon as it is
                // called, so calling it at send time would lose the request if the message is lost.
                toClient: (message) => Effect.suspend(() => (closed ? Effect.void : writeResponse(message))),
                onBreak: () => {
                  if (session === opened) session = undefined
                }
              }
              listener.sessions.set(opened.serverClientId, opened)
              sessionClientHost.set(opened, host)
              return opened
            }
            const unreachable = (why: string) =>
              new RpcClientError({ reason: "Protocol", message: `simulated: ${address} ${why}` })
            return {
              send: (request: FromClientEncoded) =>
                Effect.gen(function*() {
                  if (request._tag === "Ping") return
                  const listener = listeners.get(address)
                  if (listener === undefined || listener.closed) {
                    if (session !== undefined) yield* breakSession(session)
                    return yield* Effect.fail(unreachable("refused the connection"))
                  }
                  if (!linkUp(host, target)) {
                    if (session !== undefined) yield* breakSession(session)
                    return yield* Effect.fail(unreachable("is unreachable"))
                  }
                  if (session === undefined || session.listener !== listener) session = open(listener)
                  const current = session
                  const message = copy(request) as FromClientEncoded
                  yield* transmit(current, host, target, "toServer", listener.toServer(current.serverClientId, message))
                  if (
                    message._tag === "Request" && faults.duplicateRate > 0 &&
                    (yield* random.next) < faults.duplicateRate
                  ) {
                    duplicated++
                    const twin = { ...(copy(message) as typeof message), id: String(10n ** 15n + BigInt(++duplicateIds)) }
                    yield* transmit(current, host, target, "toServer", listener.toServer(current.serverClientId, twin))
                  }
                }),
              supportsAck: true,
              supportsTransferables: false
            }
          })
        )
        yield* Effect.addFinalizer(() =>
          Effect.suspend(() => {
            closed = true
            return session === undefined ? Effect.void : breakSession(session)
          })
        )
        return protocol
      })

    return {
      communicator: (host) => Layer.succeed(Communicator, Communicator.of({ listen: listen(host), connect: connect(host) })),
      partition: (a, b) =>
        Effect.sync(() => {
          for (const x of a) {
            for (const y of b) {
              if (x === y) continue
              cut.add(linkKey(x, y)).add(linkKey(y, x))
            }
          }
        }),
      heal: Effect.sync(() => {
        cut.clear()
        faults = CALM_LINKS
      }),
      setFaults: (next) => Effect.sync(() => { faults = next }),
      stats: Effect.sync(() => ({ delivered, dropped, duplicated, resets }))
    } satisfies SimNetwork
  })
