/**
 * The simulated network: a Communicator per host (node or client) that carries RPC requests
 * and replies in memory. Each call goes through the same Schemas as on the wire — the payload
 * is encoded by the caller and decoded by the server, the handler's Exit is encoded by the
 * server and decoded by the caller (a success through its own Schema: exitCodec.ts) — and the
 * server runs the real handlers from its context.
 * What it leaves out is @effect/rpc's framing and bookkeeping, which cost most of a simulated
 * message: a message is a callback on the simulated clock's timer queue, landing after a delay
 * drawn from the network's seeded PRNG, so one seed sees the same traffic every time.
 *
 * A connection behaves like TCP under faults: in order (unless reordering is on), and a lost
 * message breaks the whole connection (a reset), failing the caller's in-flight requests with
 * an RpcClientError — which the SDK, the Raft transport and the chunk peers treat as
 * "unreachable" and retry — and interrupting the server's handlers for it, as a server does
 * when a socket closes. A cut link refuses new sends and breaks connections across it; a
 * server whose scope closes (its node crashed) breaks every connection to it. The next send
 * after a break opens a new connection, as a reconnecting socket does. A caller that stops
 * waiting (interrupted, timed out) tells the server, which interrupts the handler.
 *
 * Duplication models an at-least-once path: the server receives a request twice; the copy's
 * reply matches no caller and is ignored.
 */
import { Rpc, RpcClientError, type RpcGroup } from "@effect/rpc"
import { Effect, Exit, FiberId, Layer, Schema } from "effect"
import type { RuntimeFiber } from "effect/Fiber"
import { Unavailable } from "../domain/errors.ts"
import { handlerRunner } from "../lib/rpcHandler.ts"
import { makePrng, nextFloat } from "../raft/prng.ts"
import { type CallOptions, Communicator, type GroupClient } from "../services/Communicator.ts"
import type { SimulatedClock } from "./clock.ts"
import { exitCodec } from "./exitCodec.ts"

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
  /** The Communicator of `host`: it serves on and calls "host:port" addresses. */
  readonly communicator: (host: string) => Layer.Layer<Communicator>
  /** Cut both directions between every host of `a` and every host of `b`. */
  readonly partition: (a: ReadonlyArray<string>, b: ReadonlyArray<string>) => Effect.Effect<void>
  /** Restore every link and calm every fault. */
  readonly heal: Effect.Effect<void>
  readonly setFaults: (faults: LinkFaults) => Effect.Effect<void>
  /**
   * Lose this fraction of the replies to `hosts` (clients): the request reaches the server and
   * is carried out, the reply is lost and the connection reset, so the client resends a
   * request that may already have been applied. Healing stops it.
   */
  readonly loseReplies: (hosts: ReadonlyArray<string>, rate: number) => Effect.Effect<void>
  readonly stats: Effect.Effect<SimNetworkStats>
}

/** The host part of "host:port". */
const hostOf = (address: string) => {
  const colon = address.lastIndexOf(":")
  return colon < 0 ? address : address.slice(0, colon)
}

const linkKey = (from: string, to: string) => `${from}\u0000${to}`

/** Encoded messages are copied as a serializer would, so no side shares a buffer with the other. */
const copy = (value: unknown): unknown => {
  if (value instanceof Uint8Array) return value.slice()
  if (Array.isArray(value)) return value.map(copy)
  if (value !== null && typeof value === "object" && Object.getPrototypeOf(value) === Object.prototype) {
    const out: Record<string, unknown> = {}
    for (const key in value) out[key] = copy((value as Record<string, unknown>)[key])
    return out
  }
  return value
}

/** How a server answers one rpc: its handler, run in a runtime holding the handler's context. */
interface ServedRpc {
  readonly decodePayload: (encoded: unknown) => unknown
  readonly encodeExit: (exit: Exit.Exit<unknown, unknown>) => unknown
  readonly run: (payload: unknown, connectionId: number) => RuntimeFiber<unknown, unknown>
}

interface Listener {
  readonly host: string
  readonly rpcs: ReadonlyMap<string, ServedRpc>
  readonly connections: Set<Connection>
  closed: boolean
  nextConnectionId: number
}

/** A caller waiting for a reply. */
interface PendingCall {
  readonly decodeExit: (encoded: unknown) => Exit.Exit<unknown, unknown>
  readonly resume: (result: Effect.Effect<unknown, unknown>) => void
}

/** One connection's life, from its first send to a break. */
interface Connection {
  readonly id: number
  readonly listener: Listener
  readonly clientHost: string
  broken: boolean
  lastToServer: number
  lastToClient: number
  /** Client side: calls waiting for their reply, by request id. */
  readonly pending: Map<number, PendingCall>
  /** Server side: handlers running for this connection, by request id. */
  readonly running: Map<number, RuntimeFiber<unknown, unknown>>
  readonly onBreak: () => void
}

const reset = (message: string) => new RpcClientError.RpcClientError({ reason: "Protocol", message })

export const makeSimNetwork = (options: { readonly seed: number; readonly clock: SimulatedClock }): Effect.Effect<SimNetwork> =>
  Effect.sync(() => {
    const clock = options.clock
    const prng = makePrng(options.seed, "network")
    const listeners = new Map<string, Listener>()
    const cut = new Set<string>()
    let faults = CALM_LINKS
    /** Hosts whose replies are lost, and at what rate. */
    let replyLoss: { readonly hosts: ReadonlySet<string>; readonly rate: number } | null = null
    let delivered = 0
    let dropped = 0
    let duplicated = 0
    let resets = 0
    let nextRequestId = 0

    const linkUp = (from: string, to: string) => cut.size === 0 || !cut.has(linkKey(from, to))

    const breakConnection = (connection: Connection) => {
      if (connection.broken) return
      connection.broken = true
      resets++
      connection.onBreak()
      connection.listener.connections.delete(connection)
      const pending = [...connection.pending.values()]
      connection.pending.clear()
      const failure = Exit.fail(reset("simulated connection reset"))
      for (const call of pending) call.resume(failure)
      for (const fiber of connection.running.values()) fiber.unsafeInterruptAsFork(FiberId.none)
      connection.running.clear()
    }

    /** Send one message across `connection`: lost (a reset), or landing after its delay while the link holds. */
    const transmit = (connection: Connection, direction: "toServer" | "toClient", land: () => void) => {
      if (connection.broken) return
      const [from, to] = direction === "toServer"
        ? [connection.clientHost, connection.listener.host]
        : [connection.listener.host, connection.clientHost]
      const lostReply = direction === "toClient" && replyLoss !== null && replyLoss.hosts.has(to) && nextFloat(prng) < replyLoss.rate
      if (!linkUp(from, to) || lostReply || (faults.dropRate > 0 && nextFloat(prng) < faults.dropRate)) {
        dropped++
        return breakConnection(connection)
      }
      const now = clock.millis
      const span = Math.max(0, faults.maxDelayMillis - faults.minDelayMillis)
      let at = now + faults.minDelayMillis + nextFloat(prng) * span
      // In order unless reordering: a message never lands before the one sent ahead of it.
      if (!faults.reorder) at = Math.max(at, direction === "toServer" ? connection.lastToServer : connection.lastToClient)
      if (direction === "toServer") connection.lastToServer = at
      else connection.lastToClient = at
      clock.schedule(at, () => {
        if (connection.broken) return
        if (!linkUp(from, to) || connection.listener.closed) {
          dropped++
          return breakConnection(connection)
        }
        delivered++
        land()
      })
    }

    /** The server side of a request landing: run the handler, then send its Exit back (unless discarded). */
    const receive = (connection: Connection, requestId: number, tag: string, encoded: unknown, discard: boolean) => {
      const rpc = connection.listener.rpcs.get(tag)
      const reply = (exit: Exit.Exit<unknown, unknown>) => {
        if (discard) return
        let message: unknown
        try {
          message = copy(rpc === undefined ? exit : rpc.encodeExit(exit))
        } catch (error) {
          message = Exit.die(error)
        }
        transmit(connection, "toClient", () => {
          const call = connection.pending.get(requestId)
          if (call === undefined) return
          connection.pending.delete(requestId)
          let decoded: Exit.Exit<unknown, unknown>
          try {
            decoded = call.decodeExit(message)
          } catch (error) {
            decoded = Exit.die(error)
          }
          call.resume(decoded)
        })
      }
      if (rpc === undefined) return reply(Exit.die(`Unknown request tag: ${tag}`))
      let payload: unknown
      try {
        payload = rpc.decodePayload(encoded)
      } catch (error) {
        return reply(Exit.die(error))
      }
      const fiber = rpc.run(payload, connection.id)
      connection.running.set(requestId, fiber)
      fiber.addObserver((exit) => {
        if (connection.running.get(requestId) === fiber) connection.running.delete(requestId)
        // Every handler answers, an interrupted one too (as @effect/rpc's server does); on a
        // broken connection the answer goes nowhere, and a caller that gave up ignores it.
        reply(exit)
      })
    }

    const serve = (host: string) => <Rpcs extends Rpc.Any>(group: RpcGroup.RpcGroup<Rpcs>, address: string) =>
      Effect.gen(function*() {
        if (hostOf(address) !== host) {
          return yield* new Unavailable({ message: `${host} cannot listen on ${address}: not its host` })
        }
        const existing = listeners.get(address)
        if (existing !== undefined && !existing.closed) {
          return yield* new Unavailable({ message: `cannot listen on ${address}: address in use` })
        }
        const runtime = yield* Effect.runtime<never>()
        const rpcs = new Map<string, ServedRpc>()
        for (const rpc of group.requests.values() as Iterable<Rpc.AnyWithProps>) {
          const run = handlerRunner(runtime, rpc)
          if (run === undefined) return yield* Effect.dieMessage(`no handler for ${rpc._tag} in context`)
          rpcs.set(rpc._tag, {
            decodePayload: Schema.decodeUnknownSync(rpc.payloadSchema as Schema.Schema<unknown, unknown>),
            encodeExit: exitCodec(rpc).encode,
            run
          })
        }
        const listener: Listener = { host, rpcs, connections: new Set(), closed: false, nextConnectionId: 0 }
        listeners.set(address, listener)
        yield* Effect.addFinalizer(() =>
          Effect.sync(() => {
            listener.closed = true
            if (listeners.get(address) === listener) listeners.delete(address)
            for (const connection of [...listener.connections]) breakConnection(connection)
          })
        )
        return address
      })

    const client = (host: string) => <Rpcs extends Rpc.Any>(group: RpcGroup.RpcGroup<Rpcs>, address: string) =>
      Effect.gen(function*() {
        const target = hostOf(address)
        let current: Connection | undefined
        let closed = false
        yield* Effect.addFinalizer(() =>
          Effect.sync(() => {
            closed = true
            if (current !== undefined) breakConnection(current)
          })
        )

        const open = (listener: Listener): Connection => {
          const connection: Connection = {
            id: listener.nextConnectionId++,
            listener,
            clientHost: host,
            broken: false,
            lastToServer: 0,
            lastToClient: 0,
            pending: new Map(),
            running: new Map(),
            onBreak: () => {
              if (current === connection) current = undefined
            }
          }
          listener.connections.add(connection)
          return connection
        }

        /** The connection to send on, or why there is none. */
        const connectionFor = (): Connection | RpcClientError.RpcClientError => {
          const listener = listeners.get(address)
          if (closed) return reset(`simulated: the client of ${address} is closed`)
          if (listener === undefined || listener.closed) {
            if (current !== undefined) breakConnection(current)
            return reset(`simulated: ${address} refused the connection`)
          }
          if (!linkUp(host, target)) {
            if (current !== undefined) breakConnection(current)
            return reset(`simulated: ${address} is unreachable`)
          }
          if (current === undefined || current.listener !== listener) current = open(listener)
          return current
        }

        const sendRequest = (connection: Connection, requestId: number, tag: string, encoded: unknown, discard: boolean) => {
          const message = copy(encoded)
          transmit(connection, "toServer", () => receive(connection, requestId, tag, message, discard))
          if (!discard && faults.duplicateRate > 0 && nextFloat(prng) < faults.duplicateRate) {
            duplicated++
            const twin = nextRequestId++
            transmit(connection, "toServer", () => receive(connection, twin, tag, copy(message), false))
          }
        }

        const api: Record<string, unknown> = {}
        for (const rpc of group.requests.values() as Iterable<Rpc.AnyWithProps>) {
          const encodePayload = Schema.encodeUnknownSync(rpc.payloadSchema as Schema.Schema<unknown, unknown>)
          const decodeExit = exitCodec(rpc).decode
          api[rpc._tag] = (payload: unknown, callOptions?: CallOptions) =>
            Effect.suspend(() => {
              const discard = callOptions?.discard === true
              let encoded: unknown
              try {
                encoded = encodePayload(payload)
              } catch (error) {
                return Effect.die(error)
              }
              const connection = connectionFor()
              if (connection instanceof RpcClientError.RpcClientError) return Effect.fail(connection)
              const requestId = nextRequestId++
              if (discard) {
                sendRequest(connection, requestId, rpc._tag, encoded, true)
                return Effect.void
              }
              // A caller that stops waiting tells the server, which interrupts the handler.
              const stopWaiting = () => {
                if (!connection.pending.delete(requestId)) return false
                transmit(connection, "toServer", () => {
                  const fiber = connection.running.get(requestId)
                  if (fiber !== undefined) fiber.unsafeInterruptAsFork(FiberId.none)
                })
                return true
              }
              return Effect.async<unknown, unknown>((resume) => {
                const { onTimeout, timeoutMillis } = callOptions ?? {}
                // A bound on the call: when it passes first, the caller gets its error.
                const cancelBound = timeoutMillis !== undefined && onTimeout !== undefined
                  ? clock.schedule(clock.millis + timeoutMillis, () => {
                    if (stopWaiting()) resume(Effect.fail(onTimeout()))
                  })
                  : undefined
                connection.pending.set(requestId, {
                  decodeExit,
                  resume: (result) => {
                    cancelBound?.()
                    resume(result)
                  }
                })
                sendRequest(connection, requestId, rpc._tag, encoded, false)
                return Effect.sync(() => {
                  cancelBound?.()
                  stopWaiting()
                })
              })
            })
        }
        return api as unknown as GroupClient<Rpcs>
      })

    return {
      communicator: (host) =>
        Layer.succeed(
          Communicator,
          Communicator.of({
            serve: serve(host) as Communicator["Type"]["serve"],
            client: client(host)
          })
        ),
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
        replyLoss = null
      }),
      loseReplies: (hosts, rate) => Effect.sync(() => {
        replyLoss = { hosts: new Set(hosts), rate }
      }),
      setFaults: (next) => Effect.sync(() => { faults = next }),
      stats: Effect.sync(() => ({ delivered, dropped, duplicated, resets }))
    } satisfies SimNetwork
  })
