/**
 * The server side of the TCP Communicator: answers the requests of an @effect/rpc group that
 * arrive on node:net sockets in @effect/rpc's wire messages (Request, Interrupt, Ping, Eof in;
 * Exit, Pong out), framed by framedMsgpack — what RpcServer speaks, so RpcClient and
 * socketClient.ts both talk to it. Large bytes in answers travel beside the message
 * (attachedBytes.ts) only to clients that say they read them.
 *
 * Why not RpcServer: per request it merges contexts, builds a runtime and forks through a chain
 * of Effects before the handler runs; on a leader under load that was about a sixth of its CPU.
 * Here a request is decoded with the rpc's payload Schema and its handler forked on a runtime
 * built once per rpc; the fiber's exit, encoded with the rpc's exit Schema, is the reply. A
 * handler that is not an Effect, a payload that does not decode, or an exit that does not
 * encode answers with a defect, as RpcServer does. An rpc annotated OneWay gets no reply.
 * A connection that closes interrupts its running handlers; so does an Interrupt message.
 */
import { Rpc, type RpcGroup } from "@effect/rpc"
import { Context, Effect, type Exit, Fiber, FiberId, ParseResult, Runtime, Schema, type Scope } from "effect"
import * as Net from "node:net"
import { Unavailable } from "../../src/domain/errors.ts"
import type { Served } from "../../src/services/Communicator.ts"
import { OneWay } from "../../src/protocol/OneWay.ts"
import { handlerRunner } from "../../src/lib/rpcHandler.ts"
import { formatAddress, parseAddress } from "./address.ts"
import { coalesceWrites } from "./coalescedWrites.ts"
import { READS_ATTACHED_HEADER } from "./attachedBytes.ts"
import { makeStreamParser, writeFrame } from "./framedMsgpack.ts"

/** How one rpc of the group is answered. */
interface Route {
  readonly decodePayload: (encoded: unknown) => unknown
  readonly encodeExit: (exit: Exit.Exit<unknown, unknown>) => unknown
  readonly run: (payload: unknown, clientId: number) => Fiber.RuntimeFiber<unknown, unknown>
  readonly oneWay: boolean
}

const encodeDefect = Schema.encodeSync(Schema.Defect)

/** The encoded Exit of a request that died with `defect`. */
const dieExit = (defect: unknown) => ({ _tag: "Failure", cause: { _tag: "Die", defect: encodeDefect(defect) } })

/** A schema's complaint in full (what RpcServer sends), anything else by its message. */
const describe = (cause: unknown): string =>
  ParseResult.isParseError(cause)
    ? ParseResult.TreeFormatter.formatErrorSync(cause)
    : cause instanceof Error
    ? cause.message
    : String(cause)

/** The handlers of `group` in the context of `serve`'s caller (rpcHandler.ts). */
const routesOf = <Rpcs extends Rpc.Any>(
  group: RpcGroup.RpcGroup<Rpcs>,
  served: Runtime.Runtime<never>,
  running: Set<Fiber.RuntimeFiber<unknown, unknown>>
): Map<string, Route> => {
  const routes = new Map<string, Route>()
  for (const rpc of group.requests.values() as Iterable<Rpc.AnyWithProps>) {
    const runHandler = handlerRunner(served, rpc)
    if (runHandler === undefined) continue
    const decodePayload = Schema.decodeUnknownSync(rpc.payloadSchema as Schema.Schema<unknown, unknown>)
    const encodeExit = Schema.encodeSync(Rpc.exitSchema(rpc as unknown as Rpc.Any)) as Route["encodeExit"]
    routes.set(rpc._tag, {
      decodePayload,
      encodeExit,
      oneWay: Context.get(rpc.annotations, OneWay),
      run: (payload, clientId) => {
        const fiber = runHandler(payload, clientId)
        running.add(fiber)
        fiber.addObserver(() => running.delete(fiber))
        return fiber
      }
    })
  }
  return routes
}

/** Answer `group` on one accepted socket until it closes. */
const answer = (socket: Net.Socket, routes: Map<string, Route>, clientId: number, running: Set<Net.Socket>) => {
  coalesceWrites(socket)
  running.add(socket)
  const parser = makeStreamParser()
  const fibers = new Map<string, Fiber.RuntimeFiber<unknown, unknown>>()
  /** Write `message`; one that cannot be encoded (our own bug) costs the connection. */
  const send = (message: unknown) => {
    if (socket.destroyed) return
    try {
      writeFrame(socket, parser.encode(message))
    } catch {
      socket.destroy()
    }
  }
  /**
   * Answer request `id` with `exit`, encoded by its Schema and then as a frame. An answer that
   * either cannot carry (or too large a frame) reaches the client as a defect, as RpcServer's does.
   */
  const reply = (id: string, route: Route, exit: Exit.Exit<unknown, unknown>) => {
    if (socket.destroyed) return
    try {
      writeFrame(socket, parser.encode({ _tag: "Exit", requestId: id, exit: route.encodeExit(exit) }, readsAttached))
    } catch (error) {
      send({ _tag: "Exit", requestId: id, exit: dieExit(describe(error)) })
    }
  }

  /** Whether the client said it reads answers with attached bytes (socketClient does; RpcClient does not). */
  let readsAttached = false

  const request = (message: { readonly id: unknown; readonly tag: unknown; readonly payload: unknown; readonly headers?: unknown }) => {
    if (!readsAttached && Array.isArray(message.headers)) {
      readsAttached = message.headers.some((header) => Array.isArray(header) && header[0] === READS_ATTACHED_HEADER)
    }
    const id = typeof message.id === "string" || typeof message.id === "bigint" ? String(message.id) : undefined
    if (id === undefined) return send({ _tag: "Defect", defect: encodeDefect(`Invalid request id: ${String(message.id)}`) })
    const route = typeof message.tag === "string" ? routes.get(message.tag) : undefined
    if (route === undefined) return send({ _tag: "Exit", requestId: id, exit: dieExit(`Unknown request tag: ${String(message.tag)}`) })
    let payload: unknown
    try {
      payload = route.decodePayload(message.payload)
    } catch (error) {
      if (route.oneWay) return
      return send({ _tag: "Exit", requestId: id, exit: dieExit(describe(error)) })
    }
    const fiber = route.run(payload, clientId)
    fibers.set(id, fiber)
    fiber.addObserver((exit) => {
      // A client reusing an id while the first request runs must not unlist the second.
      if (fibers.get(id) === fiber) fibers.delete(id)
      if (!route.oneWay) reply(id, route, exit)
    })
  }

  socket.on("data", (chunk: Buffer) => {
    let messages: ReadonlyArray<any>
    try {
      messages = parser.decode(chunk)
    } catch {
      // A stream that cannot be read has no trustworthy frame boundaries left.
      socket.destroy()
      return
    }
    for (const message of messages) {
      switch (message?._tag) {
        case "Request":
          request(message)
          break
        case "Interrupt": {
          const fiber = fibers.get(String(message.requestId))
          if (fiber !== undefined) fiber.unsafeInterruptAsFork(FiberId.none)
          break
        }
        case "Ping":
          send({ _tag: "Pong" })
          break
      }
    }
  })
  socket.on("error", () => {})
  socket.once("close", () => {
    running.delete(socket)
    for (const fiber of fibers.values()) fiber.unsafeInterruptAsFork(FiberId.none)
    fibers.clear()
  })
}

/** Serve `group` on `address` with the handlers in context, until the scope closes; resolves with the bound address. */
export const socketServer = <Rpcs extends Rpc.Any>(
  group: RpcGroup.RpcGroup<Rpcs>,
  address: string
): Effect.Effect<string, Unavailable, Scope.Scope | Served<Rpcs>> =>
  Effect.gen(function*() {
    const endpoint = parseAddress(address)
    if (endpoint === undefined) {
      return yield* new Unavailable({ message: `cannot listen on "${address}": expected host:port` })
    }
    const handlers = new Set<Fiber.RuntimeFiber<unknown, unknown>>()
    const served = (yield* Effect.runtime<Served<Rpcs>>()) as Runtime.Runtime<never>
    const routes = routesOf(group, served, handlers)
    const logError = (message: string) => void Runtime.runFork(served)(Effect.logError(message))
    const sockets = new Set<Net.Socket>()
    let clients = 0
    const server = yield* Effect.acquireRelease(
      Effect.async<Net.Server, Unavailable>((resume) => {
        const listening = Net.createServer({ noDelay: true, keepAlive: true }, (socket) =>
          answer(socket, routes, clients++, sockets))
        const refused = (cause: Error) =>
          resume(Effect.fail(new Unavailable({ message: `cannot listen on ${address}: ${describe(cause)}` })))
        listening.once("error", refused)
        listening.listen(endpoint.port, endpoint.host, () => {
          // Listening: a later error (EMFILE on accept, say) is logged; the server keeps serving.
          listening.off("error", refused)
          listening.on("error", (cause) =>
            logError(`${address}: accepting a connection failed: ${describe(cause)}`))
          resume(Effect.succeed(listening))
        })
      }),
      // Stop accepting, drop every connection, and wait for the handlers still running to end.
      (listening) =>
        Effect.zipRight(
          Effect.async<void>((resume) => {
            listening.close(() => resume(Effect.void))
            for (const socket of sockets) socket.destroy()
          }),
          Effect.suspend(() => Fiber.interruptAll([...handlers]))
        )
    )
    const bound = server.address() as Net.AddressInfo
    return formatAddress(bound.address, bound.port)
  })
