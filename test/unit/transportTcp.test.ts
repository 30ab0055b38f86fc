import { NodeSocket } from "@effect/platform-node"
import * as Socket from "@effect/platform/Socket"
import { Rpc, RpcClient, RpcClientError, RpcGroup, RpcSerialization } from "@effect/rpc"
import { describe, expect, it } from "@effect/vitest"
import { Cause, Deferred, Effect, Exit, Fiber, Schedule, Schema, Scope } from "effect"
import * as Net from "node:net"
import { NotFound, Unavailable } from "../../src/domain/errors.ts"
import { type CallOptions, Communicator } from "../../src/services/Communicator.ts"
import { TcpCommunicator } from "../../layers/transport/tcp.ts"
import { framedMsgpack } from "../../layers/transport/framedMsgpack.ts"
import { OneWay } from "../../src/protocol/OneWay.ts"

class Echo extends Rpc.make("Echo", {
  payload: { data: Schema.Uint8ArrayFromSelf },
  success: Schema.Uint8ArrayFromSelf
}) {}
class Fail extends Rpc.make("Fail", { payload: { path: Schema.String }, error: NotFound }) {}
const TestApi = RpcGroup.make(Echo, Fail)

const handlers = TestApi.toLayer({
  Echo: ({ data }) => Effect.succeed(data),
  Fail: ({ path }) => Effect.fail(new NotFound({ message: "no such file or directory", path }))
})

/** Serves TestApi on `address` until the enclosing scope closes; resolves with the bound address. */
const serve = (address: string) =>
  Effect.gen(function*() {
    const communicator = yield* Communicator
    return yield* communicator.serve(TestApi, address).pipe(Effect.provide(handlers))
  })

const clientOf = (address: string) =>
  Effect.flatMap(Communicator, (communicator) => communicator.client(TestApi, address))

const portOf = (address: string) => Number(address.slice(address.lastIndexOf(":") + 1))

/** Deterministic, non-repeating-looking bytes (xorshift32), different for every seed. */
const pseudoRandomBytes = (length: number, seed: number): Uint8Array => {
  const bytes = new Uint8Array(length)
  let state = seed * 2654435761 >>> 0 || 1
  for (let i = 0; i < length; i++) {
    state ^= state << 13
    state ^= state >>> 17
    state ^= state << 5
    bytes[i] = state & 0xff
  }
  return bytes
}

const sameBytes = (a: Uint8Array, b: Uint8Array) => Buffer.compare(a, b) === 0

/** A port that was free a moment ago: bound on port 0 in a scope that is then closed. */
const freePort = Effect.gen(function*() {
  const scope = yield* Scope.make()
  const address = yield* serve("127.0.0.1:0").pipe(Scope.extend(scope))
  yield* Scope.close(scope, Exit.void)
  return portOf(address)
})

/** HangApi served: Hang never answers, signals `started` and, once interrupted, `interrupted` with its note. */
class Hang extends Rpc.make("Hang", { payload: { note: Schema.String } }) {}
const HangApi = RpcGroup.make(Hang, Echo)
const hangingServer = Effect.gen(function*() {
  const started = yield* Deferred.make<void>()
  const interrupted = yield* Deferred.make<string>()
  const communicator = yield* Communicator
  const address = yield* communicator.serve(HangApi, "127.0.0.1:0").pipe(
    Effect.provide(HangApi.toLayer({
      Hang: ({ note }) =>
        Deferred.succeed(started, undefined).pipe(
          Effect.zipRight(Effect.never),
          Effect.onInterrupt(() => Deferred.succeed(interrupted, note))
        ),
      Echo: ({ data }) => Effect.succeed(data)
    }))
  )
  return { client: yield* communicator.client(HangApi, address), started, interrupted }
})

describe("TcpCommunicator", () => {
  it.scopedLive("listens on a free port and reports the bound address", () =>
    Effect.gen(function*() {
      const address = yield* serve("127.0.0.1:0")
      expect(address).toMatch(/^127\.0\.0\.1:\d+$/)
      expect(portOf(address)).toBeGreaterThan(0)
      const client = yield* clientOf(address)
      const reply = yield* client.Echo({ data: new Uint8Array([1, 2, 3]) })
      expect(sameBytes(reply, new Uint8Array([1, 2, 3]))).toBe(true)
    }).pipe(Effect.provide(TcpCommunicator)))

  it.scopedLive("delivers a typed error as an instance of its class with its fields", () =>
    Effect.gen(function*() {
      const client = yield* clientOf(yield* serve("127.0.0.1:0"))
      const error = yield* Effect.flip(client.Fail({ path: "/missing/file" }))
      expect(error).toBeInstanceOf(NotFound)
      const notFound = error as NotFound
      expect(notFound.path).toBe("/missing/file")
      expect(notFound.message).toBe("no such file or directory")
      expect(notFound.code).toBe("ENOENT")
    }).pipe(Effect.provide(TcpCommunicator)))

  it.scopedLive("returns 8 concurrent 1 MiB echoes byte-identical", () =>
    Effect.gen(function*() {
      const client = yield* clientOf(yield* serve("127.0.0.1:0"))
      const payloads = Array.from({ length: 8 }, (_, i) => pseudoRandomBytes(1024 * 1024, i + 1))
      const replies = yield* Effect.forEach(payloads, (data) => client.Echo({ data }), { concurrency: "unbounded" })
      replies.forEach((reply, i) => {
        expect(reply.length).toBe(payloads[i].length)
        expect(sameBytes(reply, payloads[i])).toBe(true)
      })
    }).pipe(Effect.provide(TcpCommunicator)))

  it.scopedLive("fails a listen on a port in use with Unavailable naming the address", () =>
    Effect.gen(function*() {
      const address = yield* serve("127.0.0.1:0")
      const error = yield* Effect.flip(serve(address))
      expect(error).toBeInstanceOf(Unavailable)
      expect(error.message).toContain(address)
      expect(error.message).toContain("EADDRINUSE")
    }).pipe(Effect.provide(TcpCommunicator)))

  it.scopedLive("fails a listen on a malformed address with Unavailable", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(serve("localhost"))
      expect(error).toBeInstanceOf(Unavailable)
      expect(error.message).toContain("expected host:port")
    }).pipe(Effect.provide(TcpCommunicator)))

  it.scopedLive("frees the port when the listening scope closes", () =>
    Effect.gen(function*() {
      const scope = yield* Scope.make()
      const first = yield* Effect.gen(function*() {
        const address = yield* serve("127.0.0.1:0")
        const client = yield* clientOf(address)
        yield* client.Echo({ data: new Uint8Array([1]) })
        return address
      }).pipe(Scope.extend(scope))
      yield* Scope.close(scope, Exit.void)

      const again = yield* serve(first)
      expect(again).toBe(first)
      const client = yield* clientOf(again)
      const reply = yield* client.Echo({ data: new Uint8Array([2]) })
      expect(sameBytes(reply, new Uint8Array([2]))).toBe(true)
    }).pipe(Effect.provide(TcpCommunicator)))

  it.scopedLive("fails requests while the server is down, then reconnects once it is up", () =>
    Effect.gen(function*() {
      const address = `127.0.0.1:${yield* freePort}`
      const client = yield* clientOf(address)
      const error = yield* Effect.flip(client.Echo({ data: new Uint8Array([3]) }))
      expect(error).toBeInstanceOf(RpcClientError.RpcClientError)

      yield* serve(address)
      const reply = yield* client.Echo({ data: new Uint8Array([4]) }).pipe(
        Effect.retry({ schedule: Schedule.spaced("20 millis"), times: 500 })
      )
      expect(sameBytes(reply, new Uint8Array([4]))).toBe(true)
    }).pipe(Effect.provide(TcpCommunicator)))

  it.scopedLive("fails requests to a malformed address instead of hanging", () =>
    Effect.gen(function*() {
      const client = yield* clientOf("no-port-here")
      const error = yield* Effect.flip(client.Echo({ data: new Uint8Array([5]) }))
      expect(error).toBeInstanceOf(RpcClientError.RpcClientError)
    }).pipe(Effect.provide(TcpCommunicator)))

  it.scopedLive("disconnects a peer that announces an absurd frame length", () =>
    Effect.gen(function*() {
      const address = yield* serve("127.0.0.1:0")
      const socket = yield* NodeSocket.makeNet({ host: "127.0.0.1", port: portOf(address) })
      const write = yield* socket.writer
      const running = yield* Effect.fork(socket.runRaw(() => {}))
      yield* write(new Uint8Array([0xff, 0xff, 0xff, 0xff, 0x00]))
      // The server closes the connection, so the read loop ends instead of waiting for 4 GiB.
      yield* running.await
      const client = yield* clientOf(address)
      const reply = yield* client.Echo({ data: new Uint8Array([6]) })
      expect(sameBytes(reply, new Uint8Array([6]))).toBe(true)
    }).pipe(Effect.provide(TcpCommunicator)))

  it.scopedLive("an answer msgpack cannot carry reaches the caller as a defect, and the connection keeps working", () =>
    Effect.gen(function*() {
      class Odd extends Rpc.make("Odd", { success: Schema.Unknown }) {}
      const OddApi = RpcGroup.make(Odd, Echo)
      const communicator = yield* Communicator
      const address = yield* communicator.serve(OddApi, "127.0.0.1:0").pipe(
        Effect.provide(OddApi.toLayer({
          Odd: () => Effect.succeed(Symbol("not encodable")),
          Echo: ({ data }) => Effect.succeed(data)
        }))
      )
      const client = yield* communicator.client(OddApi, address)
      const exit = yield* Effect.exit(client.Odd())
      expect(Exit.isFailure(exit) && Cause.isDie(exit.cause)).toBe(true)
      const reply = yield* client.Echo({ data: new Uint8Array([9, 8]) })
      expect(sameBytes(reply, new Uint8Array([9, 8]))).toBe(true)
    }).pipe(Effect.provide(TcpCommunicator)))

  it.scopedLive("sends no reply to a OneWay rpc, and still answers the others on the same connection", () =>
    Effect.gen(function*() {
      class Notify extends Rpc.make("Notify", { payload: { note: Schema.String } }) {}
      const NotifyApi = RpcGroup.make(Notify.annotate(OneWay, true), Echo)
      const notified = yield* Deferred.make<string>()
      const communicator = yield* Communicator
      const address = yield* communicator.serve(NotifyApi, "127.0.0.1:0").pipe(
        Effect.provide(NotifyApi.toLayer({
          Notify: ({ note }) => Deferred.succeed(notified, note),
          Echo: ({ data }) => Effect.succeed(data)
        }))
      )
      // A raw connection speaking the wire format, to see every message the server sends.
      const parser = framedMsgpack.unsafeMake()
      const received: Array<{ readonly _tag: string; readonly requestId?: string }> = []
      const echoed = yield* Deferred.make<void>()
      const socket = yield* Effect.acquireRelease(
        Effect.async<Net.Socket>((resume) => {
          const connection = Net.createConnection({ host: "127.0.0.1", port: portOf(address) }, () =>
            resume(Effect.succeed(connection)))
        }),
        (connection) => Effect.sync(() => connection.destroy())
      )
      socket.on("data", (chunk) => {
        for (const message of parser.decode(chunk) as Array<{ _tag: string; requestId?: string }>) {
          received.push(message)
          if (message._tag === "Exit" && message.requestId === "2") Effect.runSync(Deferred.succeed(echoed, undefined))
        }
      })
      const request = (id: string, tag: string, payload: unknown) =>
        socket.write(parser.encode({ _tag: "Request", id, tag, payload, headers: [] }) as Uint8Array)
      request("1", "Notify", { note: "hello" })
      expect(yield* Deferred.await(notified)).toBe("hello")
      // The Notify handler has finished: an Exit for it would be sent before the Echo's.
      request("2", "Echo", { data: new Uint8Array([7]) })
      yield* Deferred.await(echoed)
      expect(received.filter((message) => message._tag === "Exit").map((message) => message.requestId)).toEqual(["2"])
    }).pipe(Effect.provide(TcpCommunicator)))

  it.scopedLive("a caller that stops waiting has the server interrupt the handler", () =>
    Effect.gen(function*() {
      const { client, interrupted, started } = yield* hangingServer
      const waiting = yield* Effect.fork(client.Hang({ note: "stop" }))
      yield* Deferred.await(started)
      yield* Fiber.interrupt(waiting)
      expect(yield* Deferred.await(interrupted)).toBe("stop")
      // The connection stays usable.
      const reply = yield* client.Echo({ data: new Uint8Array([8]) })
      expect(sameBytes(reply, new Uint8Array([8]))).toBe(true)
    }).pipe(Effect.provide(TcpCommunicator)))

  it.scopedLive("fails a waiting call with RpcClientError when its connection drops, and opens a new one once the backoff delay passed", () =>
    Effect.gen(function*() {
      // A peer that takes each connection's first request and then drops the connection.
      let connections = 0
      const server = yield* Effect.acquireRelease(
        Effect.async<Net.Server>((resume) => {
          const listening = Net.createServer((socket) => {
            connections++
            socket.once("data", () => socket.destroy())
          })
          listening.listen(0, "127.0.0.1", () => resume(Effect.succeed(listening)))
        }),
        (listening) => Effect.async<void>((resume) => void listening.close(() => resume(Effect.void)))
      )
      const { port } = server.address() as Net.AddressInfo
      const client = yield* clientOf(`127.0.0.1:${port}`)
      const first = yield* Effect.flip(client.Echo({ data: new Uint8Array([9]) }))
      expect(first).toBeInstanceOf(RpcClientError.RpcClientError)
      // It closed right after opening: the next call fails at once, without a new connection...
      const second = yield* Effect.flip(client.Echo({ data: new Uint8Array([10]) }))
      expect(second).toBeInstanceOf(RpcClientError.RpcClientError)
      expect(connections).toBe(1)
      // ...until the backoff delay has passed; then a call opens a new one.
      yield* Effect.flip(client.Echo({ data: new Uint8Array([11]) })).pipe(
        Effect.repeat({ schedule: Schedule.spaced("10 millis"), until: () => connections === 2 }),
        Effect.timeout("5 seconds")
      )
      expect(connections).toBe(2)
    }).pipe(Effect.provide(TcpCommunicator)))

  it.scopedLive("speaks @effect/rpc's protocol: RpcClient gets answers and typed errors from the server", () =>
    Effect.gen(function*() {
      const address = yield* serve("127.0.0.1:0")
      const socket = yield* NodeSocket.makeNet({ host: "127.0.0.1", port: portOf(address) })
      const protocol = yield* RpcClient.makeProtocolSocket().pipe(
        Effect.provideService(Socket.Socket, socket),
        Effect.provideService(RpcSerialization.RpcSerialization, framedMsgpack)
      )
      const client = yield* RpcClient.make(TestApi, { disableTracing: true }).pipe(
        Effect.provideService(RpcClient.Protocol, protocol)
      )
      const reply = yield* client.Echo({ data: new Uint8Array([11, 12]) })
      expect(sameBytes(reply, new Uint8Array([11, 12]))).toBe(true)
      // It never said it reads attached bytes, so a large answer comes inline.
      const large = new Uint8Array(200_000).map((_, i) => i & 0xff)
      expect(sameBytes(yield* client.Echo({ data: large }), large)).toBe(true)
      const error = yield* Effect.flip(client.Fail({ path: "/x" }))
      expect(error).toBeInstanceOf(NotFound)
    }).pipe(Effect.provide(TcpCommunicator)))

  it.scopedLive("a call bounded by timeoutMillis fails with the caller's error when no answer comes in time, and the handler is stopped", () =>
    Effect.gen(function*() {
      const { client, interrupted } = yield* hangingServer
      const call = client.Hang as unknown as (payload: { note: string }, options: CallOptions) => Effect.Effect<void, unknown>
      const error = yield* Effect.flip(call({ note: "late" }, { timeoutMillis: 50, onTimeout: () => "gave up" }))
      expect(error).toBe("gave up")
      expect(yield* Deferred.await(interrupted)).toBe("late")
      // A bounded call answered in time is unaffected.
      const echo = client.Echo as unknown as (payload: { data: Uint8Array }, options: CallOptions) => Effect.Effect<Uint8Array, unknown>
      const reply = yield* echo({ data: new Uint8Array([13]) }, { timeoutMillis: 5_000, onTimeout: () => "gave up" })
      expect(sameBytes(reply, new Uint8Array([13]))).toBe(true)
    }).pipe(Effect.provide(TcpCommunicator)))
})
