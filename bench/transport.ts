/**
 * Transport throughput and latency on loopback: 1 MiB echoes sequentially and 8 in flight,
 * and small-request round trips. The TcpCommunicator (framed msgpack) is measured against the
 * same wiring with @effect/rpc's stock msgpack serializer, to keep the reason for the custom
 * framing visible. Run: npx tsx bench/transport.ts
 */
import { NodeRuntime, NodeSocket, NodeSocketServer } from "@effect/platform-node"
import * as Socket from "@effect/platform/Socket"
import * as SocketServer from "@effect/platform/SocketServer"
import { Rpc, RpcClient, RpcGroup, RpcSerialization, RpcServer } from "@effect/rpc"
import { Console, Effect, Schema } from "effect"
import { TcpCommunicator } from "../layers/transport/tcp.ts"
import { Communicator, type CommunicatorShape } from "../src/services/Communicator.ts"

class Echo extends Rpc.make("Echo", {
  payload: { data: Schema.Uint8ArrayFromSelf },
  success: Schema.Uint8ArrayFromSelf
}) {}
const BenchApi = RpcGroup.make(Echo)
const handlers = BenchApi.toLayer({ Echo: ({ data }) => Effect.succeed(data) })

const MiB = 1024 * 1024
const sequentialEchoes = 200
const concurrentEchoes = 96
const concurrency = 8
const pings = 5_000

/** The stock serializer wired exactly like TcpCommunicator, for comparison only. */
const stockMsgpackCommunicator = {
  serve: (address: string) =>
    Effect.gen(function*() {
      const [host, port] = address.split(":")
      const server = yield* Effect.orDie(NodeSocketServer.make({ host, port: Number(port), noDelay: true }))
      const protocol = yield* RpcServer.makeProtocolSocketServer.pipe(
        Effect.provideService(SocketServer.SocketServer, server)
      )
      yield* RpcServer.make(BenchApi, { disableTracing: true }).pipe(Effect.provideService(RpcServer.Protocol, protocol), Effect.forkScoped)
      const bound = server.address
      return bound._tag === "TcpAddress" ? `${bound.hostname}:${bound.port}` : bound.path
    }).pipe(Effect.provideService(RpcSerialization.RpcSerialization, RpcSerialization.msgPack)),
  client: (address: string) =>
    Effect.gen(function*() {
      const [host, port] = address.split(":")
      const socket = yield* Effect.orDie(NodeSocket.makeNet({ host, port: Number(port), noDelay: true }))
      const protocol = yield* RpcClient.makeProtocolSocket().pipe(Effect.provideService(Socket.Socket, socket))
      return yield* RpcClient.make(BenchApi, { disableTracing: true }).pipe(Effect.provideService(RpcClient.Protocol, protocol))
    }).pipe(Effect.provideService(RpcSerialization.RpcSerialization, RpcSerialization.msgPack))
}

const framedCommunicator = (communicator: CommunicatorShape) => ({
  serve: (address: string) => Effect.orDie(communicator.serve(BenchApi, address)),
  client: (address: string) => communicator.client(BenchApi, address)
})

const nearestRank = (sorted: ReadonlyArray<number>, p: number) =>
  sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)]

const measure = (label: string, communicator: typeof stockMsgpackCommunicator) =>
  Effect.scoped(Effect.gen(function*() {
    const address = yield* communicator.serve("127.0.0.1:0").pipe(Effect.provide(handlers))
    const client = yield* communicator.client(address)
    const block = new Uint8Array(MiB).map((_, i) => (i * 2654435761) >>> 24)
    const empty = new Uint8Array(0)

    // Warm-up: connection, JIT, msgpackr buffers.
    yield* Effect.forEach(Array.from({ length: 20 }), () => client.Echo({ data: block }), { concurrency })
    yield* Effect.forEach(Array.from({ length: 500 }), () => client.Echo({ data: empty }), { discard: true })

    const sequentialStart = performance.now()
    for (let i = 0; i < sequentialEchoes; i++) yield* client.Echo({ data: block })
    const sequentialSeconds = (performance.now() - sequentialStart) / 1000

    const concurrentStart = performance.now()
    yield* Effect.forEach(Array.from({ length: concurrentEchoes }), () => client.Echo({ data: block }), {
      concurrency,
      discard: true
    })
    const concurrentSeconds = (performance.now() - concurrentStart) / 1000

    const latencies: Array<number> = []
    for (let i = 0; i < pings; i++) {
      const start = performance.now()
      yield* client.Echo({ data: empty })
      latencies.push((performance.now() - start) * 1000)
    }
    latencies.sort((a, b) => a - b)

    yield* Console.log(
      [
        label.padEnd(30),
        `1 MiB sequential ${(sequentialEchoes / sequentialSeconds).toFixed(0).padStart(5)} MiB/s`,
        `1 MiB x${concurrency} concurrent ${(concurrentEchoes / concurrentSeconds).toFixed(0).padStart(5)} MiB/s`,
        `ping p50 ${nearestRank(latencies, 50).toFixed(0).padStart(4)} µs`,
        `p99 ${nearestRank(latencies, 99).toFixed(0).padStart(5)} µs`
      ].join("  ")
    )
  }))

const program = Effect.gen(function*() {
  yield* Console.log("payload MiB echoed per second over loopback; ping = empty Echo round trip")
  yield* measure("TcpCommunicator (framed)", framedCommunicator(yield* Communicator))
  yield* measure("stock @effect/rpc msgPack", stockMsgpackCommunicator)
})

program.pipe(Effect.provide(TcpCommunicator), NodeRuntime.runMain)
