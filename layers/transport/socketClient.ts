/**
 * The client side of the TCP Communicator: the requests of an @effect/rpc group sent over one
 * node:net socket in @effect/rpc's own wire messages (Request and Interrupt out; Exit and
 * Defect back), framed by framedMsgpack, so RpcServer answers it as it answers RpcClient —
 * except a request carrying 64 KiB or more of bytes, which go beside the message
 * (attachedBytes.ts), as only socketServer reads.
 *
 * Why not RpcClient: it builds a runtime and forks a fiber for every request, and routes every
 * reply through a chain of Effects; that was the largest share of a client's CPU per create.
 * Here a call encodes its payload with the rpc's Schema, writes one frame and waits in
 * `Effect.async`; a reply is decoded with the rpc's exit Schema and resumes it directly.
 *
 * A call with a bound (CallOptions.timeoutMillis) that is still waiting when it passes fails with
 * the caller's error and the server is told to stop; one timer per client looks for overdue
 * calls while any wait, so a bound costs a field per call instead of two fibers.
 *
 * Connection: opened on first use (writes made while it opens wait in the socket). When it
 * cannot be opened, or drops, every waiting call fails with an RpcClientError; after a failed
 * open, calls fail at once with one until the next attempt is due (20 ms doubling to 1 s,
 * jittered), so callers choose their own retry and a down peer costs nothing per call.
 */
import { Rpc, RpcClientError, type RpcGroup } from "@effect/rpc"
import { Effect, type Exit, Random, Schema, type Scope } from "effect"
import * as Net from "node:net"
import type { CallOptions, GroupClient } from "../../src/services/Communicator.ts"
import { coalesceWrites } from "./coalescedWrites.ts"
import { type Endpoint, parseAddress } from "./address.ts"
import { READS_ATTACHED_HEADER } from "./attachedBytes.ts"
import { makeStreamParser, writeFrame } from "./framedMsgpack.ts"

/** A connection attempt to an unreachable host gives up after this. */
const CONNECT_TIMEOUT_MILLIS = 5_000
/** Delay before the first new attempt after a failed one; it doubles per failure up to the maximum. */
const RETRY_BASE_MILLIS = 20
const RETRY_MAX_MILLIS = 1_000

interface Waiting {
  readonly decodeExit: (encoded: unknown) => Exit.Exit<unknown, unknown>
  readonly resume: (result: Effect.Effect<unknown, unknown>) => void
  /** Monotonic time after which the caller stops waiting (CallOptions.timeoutMillis), or Infinity. */
  readonly deadline: number
  /** The call's bound in milliseconds, or Infinity. */
  readonly bound: number
  readonly onTimeout: (() => unknown) | undefined
}

interface Connection {
  readonly socket: Net.Socket
  readonly parser: ReturnType<typeof makeStreamParser>
  /** Send what is corked now instead of at the end of the burst. */
  readonly flush: () => void
  /** Calls waiting for their Exit, by request id. */
  readonly waiting: Map<string, Waiting>
  /** Monotonic time it opened, or undefined while it is opening. */
  connectedAt: number | undefined
  /** A Ping was sent and no message came since. */
  pinged: boolean
  error: Error | undefined
  /** Whether a request has told the server that this client reads attached bytes. */
  announced: boolean
}

const rpcError = (message: string, cause?: unknown) =>
  new RpcClientError.RpcClientError({ reason: "Protocol", message, cause })

const describe = (error: Error | undefined): string => error?.message ?? "the connection closed"

/** Overdue calls are looked for at most this often, and at least every tenth of the shortest bound. */
const SWEEP_MAX_MILLIS = 1_000
/**
 * A Ping every this long on an open connection; one unanswered by the next makes it dead. A
 * peer that went silent without closing (a crashed host, a partition) is found in seconds,
 * not after the hours TCP keepalive takes. (RpcClient does the same.)
 */
const PING_EVERY_MILLIS = 10_000
/** A connection that closed sooner than this after opening counts as a failed open (backoff). */
const SHORT_LIVED_MILLIS = 5_000

export const socketClient = <Rpcs extends Rpc.Any>(
  group: RpcGroup.RpcGroup<Rpcs>,
  address: string
): Effect.Effect<GroupClient<Rpcs>, never, Scope.Scope> =>
  Effect.gen(function*() {
    const endpoint: Endpoint | undefined = parseAddress(address)
    const clock = yield* Effect.clock
    // Monotonic: deadlines and backoff must not jump with the wall clock.
    const now = (): number => Number(clock.unsafeCurrentTimeNanos()) / 1e6
    // Jitter from the Random service (so a simulation could control it), drawn per client.
    let jitterState = (yield* Random.nextIntBetween(1, 0x7fffffff)) >>> 0
    const jitter = (): number => {
      jitterState ^= jitterState << 13
      jitterState ^= jitterState >>> 17
      jitterState ^= jitterState << 5
      return 0.8 + 0.4 * ((jitterState >>> 0) / 0x1_0000_0000)
    }

    let current: Connection | undefined
    let closed = false
    let failedOpens = 0
    let retryAt = 0
    let nextRequestId = 0

    const failWaiting = (connection: Connection, message: string, cause?: unknown) => {
      const waiting = [...connection.waiting.values()]
      connection.waiting.clear()
      for (const call of waiting) call.resume(Effect.fail(rpcError(message, cause)))
    }

    const interrupt = (connection: Connection, id: string) => {
      if (!connection.socket.destroyed) {
        writeFrame(connection.socket, connection.parser.encode({ _tag: "Interrupt", requestId: id }))
      }
    }

    // The sweep: armed while a call with a bound waits (every waiting call is on `current`:
    // a connection that closes fails its calls), every tenth of the shortest bound waiting.
    let sweepTimer: ReturnType<typeof setTimeout> | undefined
    let sweepAt = Infinity
    const sweep = () => {
      sweepTimer = undefined
      sweepAt = Infinity
      const connection = current
      if (connection === undefined) return
      const at = now()
      let shortest = Infinity
      for (const [id, call] of connection.waiting) {
        if (call.deadline === Infinity) continue
        if (call.deadline > at) {
          shortest = Math.min(shortest, call.bound)
          continue
        }
        connection.waiting.delete(id)
        interrupt(connection, id)
        call.resume(Effect.fail(call.onTimeout!()))
      }
      if (shortest !== Infinity) armSweep(shortest)
    }
    const armSweep = (bound: number) => {
      if (closed) return
      const every = Math.max(1, Math.min(SWEEP_MAX_MILLIS, bound / 10))
      if (sweepTimer !== undefined) {
        if (now() + every >= sweepAt) return
        clearTimeout(sweepTimer)
      }
      sweepAt = now() + every
      sweepTimer = setTimeout(sweep, every)
      sweepTimer.unref()
    }

    // Liveness: every PING_EVERY_MILLIS, a connection that has not answered the last Ping is dropped.
    const pingTimer = setInterval(() => {
      const connection = current
      if (connection === undefined || connection.connectedAt === undefined) return
      if (connection.pinged) {
        connection.socket.destroy(new Error(`no answer to a ping within ${PING_EVERY_MILLIS} ms`))
        return
      }
      connection.pinged = true
      writeFrame(connection.socket, connection.parser.encode({ _tag: "Ping" }))
    }, PING_EVERY_MILLIS)
    pingTimer.unref()

    /**
     * The socket closed: whoever waits learns it. A failed open, or a connection that closed
     * soon after opening, delays the next open; one that lived a while is reopened at once.
     */
    const lost = (connection: Connection) => {
      if (current === connection) current = undefined
      if (connection.connectedAt === undefined || now() - connection.connectedAt < SHORT_LIVED_MILLIS) {
        failedOpens++
        const delay = Math.min(RETRY_MAX_MILLIS, RETRY_BASE_MILLIS * 2 ** (failedOpens - 1)) * jitter()
        retryAt = now() + delay
      } else {
        failedOpens = 0
      }
      failWaiting(connection, `${address}: ${describe(connection.error)}`, connection.error)
    }

    const onMessage = (connection: Connection, message: any) => {
      switch (message?._tag) {
        case "Exit": {
          const id = String(message.requestId)
          const call = connection.waiting.get(id)
          if (call === undefined) return
          connection.waiting.delete(id)
          let exit: Exit.Exit<unknown, unknown>
          try {
            exit = call.decodeExit(message.exit)
          } catch (error) {
            call.resume(Effect.die(error))
            return
          }
          call.resume(exit)
          return
        }
        case "Defect": {
          // The server gave up on this client (RpcClient fails every call the same way).
          const waiting = [...connection.waiting.values()]
          connection.waiting.clear()
          for (const call of waiting) call.resume(Effect.die(message.defect))
          return
        }
      }
    }

    /** `length` bytes arrived on `connection`'s socket, where its parser asked for them. */
    const received = (connection: Connection, length: number): boolean => {
      // Anything arriving (even part of a long frame) shows the peer alive.
      connection.pinged = false
      let messages: ReadonlyArray<unknown>
      try {
        messages = connection.parser.decodeRead(length)
      } catch (error) {
        // A stream that cannot be read has no trustworthy frame boundaries left.
        connection.socket.destroy(error instanceof Error ? error : new Error(String(error)))
        return false
      }
      for (const message of messages) onMessage(connection, message)
      return true
    }

    const open = (target: Endpoint): Connection => {
      const parser = makeStreamParser()
      // Reads land where the parser says (socket `onread`): a large reply's bytes go straight
      // into its frame's buffer, instead of a new 64 KiB buffer per read gathered at the end.
      const socket = Net.createConnection({
        host: target.host,
        port: target.port,
        noDelay: true,
        keepAlive: true,
        onread: { buffer: parser.readBuffer, callback: (length) => received(connection, length) }
      })
      const flush = coalesceWrites(socket)
      const connection: Connection = {
        socket,
        parser,
        flush,
        waiting: new Map(),
        connectedAt: undefined,
        pinged: false,
        error: undefined,
        announced: false
      }
      socket.setTimeout(CONNECT_TIMEOUT_MILLIS)
      socket.once("connect", () => {
        connection.connectedAt = now()
        socket.setTimeout(0)
      })
      socket.on("timeout", () => {
        if (connection.connectedAt === undefined) socket.destroy(new Error(`no connection within ${CONNECT_TIMEOUT_MILLIS} ms`))
      })
      socket.on("error", (error) => {
        connection.error = error
      })
      socket.once("close", () => lost(connection))
      return connection
    }

    /** The connection to send on, or why there is none. */
    const connection = (): Connection | RpcClientError.RpcClientError => {
      if (closed) return rpcError(`the client of ${address} is closed`)
      if (current !== undefined) return current
      if (endpoint === undefined) return rpcError(`cannot connect to "${address}": expected host:port`)
      if (now() < retryAt) return rpcError(`${address} cannot be reached; retrying shortly`)
      current = open(endpoint)
      return current
    }

    yield* Effect.addFinalizer(() =>
      Effect.sync(() => {
        closed = true
        if (sweepTimer !== undefined) clearTimeout(sweepTimer)
        clearInterval(pingTimer)
        const last = current
        current = undefined
        if (last !== undefined) {
          failWaiting(last, `the client of ${address} is closed`)
          last.socket.destroy()
        }
      })
    )

    const api: Record<string, unknown> = {}
    for (const rpc of group.requests.values() as Iterable<Rpc.AnyWithProps>) {
      const tag = rpc._tag
      const encodePayload = Schema.encodeUnknownSync(rpc.payloadSchema as Schema.Schema<unknown, unknown>)
      const decodeExit = Schema.decodeUnknownSync(Rpc.exitSchema(rpc as unknown as Rpc.Any)) as Waiting["decodeExit"]
      /** Encode and send one request on the current connection (opened if need be); the connection, or why none. */
      const send = (payload: unknown, id: string, urgent: boolean): Connection | RpcClientError.RpcClientError => {
        const target = connection()
        if (target instanceof RpcClientError.RpcClientError) return target
        const headers = target.announced ? [] : [[READS_ATTACHED_HEADER, "1"]]
        target.announced = true
        writeFrame(target.socket, target.parser.encode({ _tag: "Request", id, tag, payload: encodePayload(payload), headers }))
        if (urgent) target.flush()
        return target
      }
      api[tag] = (payload: unknown, options?: CallOptions) => {
        if (options?.discard === true) {
          return Effect.suspend(() => {
            const sent = send(payload, String(nextRequestId++), options.urgent === true)
            return sent instanceof RpcClientError.RpcClientError ? Effect.fail(sent) : Effect.void
          })
        }
        const bound = options?.onTimeout !== undefined ? options.timeoutMillis : undefined
        // Registered and sent in one synchronous step: no close event can come in between.
        return Effect.async<unknown, unknown>((resume) => {
          const id = String(nextRequestId++)
          let target: Connection | RpcClientError.RpcClientError
          try {
            target = send(payload, id, options?.urgent === true)
          } catch (error) {
            resume(Effect.die(error))
            return
          }
          if (target instanceof RpcClientError.RpcClientError) {
            resume(Effect.fail(target))
            return
          }
          const sent = target
          sent.waiting.set(id, {
            decodeExit,
            resume,
            deadline: bound === undefined ? Infinity : now() + bound,
            bound: bound ?? Infinity,
            onTimeout: options?.onTimeout
          })
          if (bound !== undefined) armSweep(bound)
          // A caller that stops waiting tells the server, which interrupts the handler.
          return Effect.sync(() => {
            if (sent.waiting.delete(id)) interrupt(sent, id)
          })
        })
      }
    }
    return api as unknown as GroupClient<Rpcs>
  })
