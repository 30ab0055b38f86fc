/**
 * The client side of the TCP Communicator: the requests of an @effect/rpc group sent over one
 * node:net socket in @effect/rpc's own wire messages (Request and Interrupt out; Exit and
 * Defect back), framed by framedMsgpack, so RpcServer answers it as it answers RpcClient.
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
import { framedMsgpack } from "./framedMsgpack.ts"

/** A connection attempt to an unreachable host gives up after this. */
const CONNECT_TIMEOUT_MILLIS = 5_000
/** Delay before the first new attempt after a failed one; it doubles per failure up to the maximum. */
const RETRY_BASE_MILLIS = 20
const RETRY_MAX_MILLIS = 1_000

interface Waiting {
  readonly decodeExit: (encoded: unknown) => Exit.Exit<unknown, unknown>
  readonly resume: (result: Effect.Effect<unknown, unknown>) => void
  /** Clock time after which the caller stops waiting (CallOptions.timeoutMillis), or Infinity. */
  readonly deadline: number
  readonly onTimeout: (() => unknown) | undefined
}

interface Connection {
  readonly socket: Net.Socket
  readonly parser: ReturnType<typeof framedMsgpack.unsafeMake>
  /** Calls waiting for their Exit, by request id. */
  readonly waiting: Map<string, Waiting>
  connected: boolean
  error: Error | undefined
}

const rpcError = (message: string, cause?: unknown) =>
  new RpcClientError.RpcClientError({ reason: "Protocol", message, cause })

const describe = (error: Error | undefined): string => error?.message ?? "the connection closed"

/** Overdue calls are looked for at most this often, and at least every tenth of the shortest bound. */
const SWEEP_MAX_MILLIS = 1_000

export const socketClient = <Rpcs extends Rpc.Any>(
  group: RpcGroup.RpcGroup<Rpcs>,
  address: string
): Effect.Effect<GroupClient<Rpcs>, never, Scope.Scope> =>
  Effect.gen(function*() {
    const endpoint: Endpoint | undefined = parseAddress(address)
    const clock = yield* Effect.clock
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
        connection.socket.write(connection.parser.encode({ _tag: "Interrupt", requestId: id }) as Uint8Array)
      }
    }

    // The sweep: armed while a call with a bound waits, every tenth of the shortest bound seen.
    let sweepEvery = SWEEP_MAX_MILLIS
    let sweepTimer: ReturnType<typeof setTimeout> | undefined
    const sweep = () => {
      sweepTimer = undefined
      const connection = current
      if (connection === undefined) return
      const now = clock.unsafeCurrentTimeMillis()
      let bounded = false
      for (const [id, call] of connection.waiting) {
        if (call.deadline === Infinity) continue
        if (call.deadline > now) {
          bounded = true
          continue
        }
        connection.waiting.delete(id)
        interrupt(connection, id)
        call.resume(Effect.fail(call.onTimeout!()))
      }
      if (bounded) armSweep()
    }
    const armSweep = () => {
      if (sweepTimer !== undefined || closed) return
      sweepTimer = setTimeout(sweep, sweepEvery)
      sweepTimer.unref()
    }

    /** The socket closed: whoever waits learns it, and a failed open delays the next one. */
    const lost = (connection: Connection) => {
      if (current === connection) current = undefined
      if (!connection.connected) {
        failedOpens++
        const delay = Math.min(RETRY_MAX_MILLIS, RETRY_BASE_MILLIS * 2 ** (failedOpens - 1)) * jitter()
        retryAt = clock.unsafeCurrentTimeMillis() + delay
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

    const open = (target: Endpoint): Connection => {
      const socket = Net.createConnection({ host: target.host, port: target.port, noDelay: true, keepAlive: true })
      coalesceWrites(socket)
      const connection: Connection = {
        socket,
        parser: framedMsgpack.unsafeMake(),
        waiting: new Map(),
        connected: false,
        error: undefined
      }
      socket.setTimeout(CONNECT_TIMEOUT_MILLIS)
      socket.once("connect", () => {
        connection.connected = true
        failedOpens = 0
        socket.setTimeout(0)
      })
      socket.on("timeout", () => {
        if (!connection.connected) socket.destroy(new Error(`no connection within ${CONNECT_TIMEOUT_MILLIS} ms`))
      })
      socket.on("data", (chunk: Buffer) => {
        let messages: ReadonlyArray<unknown>
        try {
          messages = connection.parser.decode(chunk)
        } catch (error) {
          // A stream that cannot be read has no trustworthy frame boundaries left.
          socket.destroy(error instanceof Error ? error : new Error(String(error)))
          return
        }
        for (const message of messages) onMessage(connection, message)
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
      if (clock.unsafeCurrentTimeMillis() < retryAt) return rpcError(`${address} cannot be reached; retrying shortly`)
      current = open(endpoint)
      return current
    }

    yield* Effect.addFinalizer(() =>
      Effect.sync(() => {
        closed = true
        if (sweepTimer !== undefined) clearTimeout(sweepTimer)
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
      api[tag] = (payload: unknown, options?: CallOptions) =>
        Effect.suspend(() => {
          const target = connection()
          if (target instanceof RpcClientError.RpcClientError) return Effect.fail(target)
          const id = String(nextRequestId++)
          let frame: Uint8Array
          try {
            frame = target.parser.encode({ _tag: "Request", id, tag, payload: encodePayload(payload), headers: [] }) as Uint8Array
          } catch (error) {
            return Effect.die(error)
          }
          if (options?.discard === true) {
            target.socket.write(frame)
            return Effect.void
          }
          const bound = options?.timeoutMillis
          const deadline = bound !== undefined && options?.onTimeout !== undefined
            ? clock.unsafeCurrentTimeMillis() + bound
            : Infinity
          return Effect.async<unknown, unknown>((resume) => {
            target.waiting.set(id, { decodeExit, resume, deadline, onTimeout: options?.onTimeout })
            target.socket.write(frame)
            if (deadline !== Infinity) {
              sweepEvery = Math.max(1, Math.min(sweepEvery, bound! / 10))
              armSweep()
            }
            // A caller that stops waiting tells the server, which interrupts the handler.
            return Effect.sync(() => {
              if (target.waiting.delete(id)) interrupt(target, id)
            })
          })
        })
    }
    return api as unknown as GroupClient<Rpcs>
  })
