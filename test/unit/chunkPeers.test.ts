import { describe, expect, it } from "@effect/vitest"
import { Context, Deferred, Duration, Effect, Layer, Option, Stream } from "effect"
import { ProbingClusterService } from "../../layers/membership/probing.ts"
import { ClusterService } from "../../src/services/ClusterService.ts"
import { ChunkServiceMemory } from "../../layers/chunks/memory.ts"
import { ChunkApiHandlers, RpcChunkPeers } from "../../layers/chunks/rpcPeers.ts"
import { BoundedAdmission } from "../../layers/admission/bounded.ts"
import { StaticClusterService } from "../../layers/membership/static.ts"
import { StaticEndpointResolver } from "../../layers/routing/static.ts"
import { TcpCommunicator } from "../../layers/transport/tcp.ts"
import { crc32c } from "../../src/lib/crc32c.ts"
import { ChunkApi } from "../../src/protocol/ChunkApi.ts"
import { ChunkPeers } from "../../src/services/ChunkPeers.ts"
import { ChunkService } from "../../src/services/ChunkService.ts"
import { Communicator } from "../../src/services/Communicator.ts"
import { expectBytes, patternBytes } from "../support/bytes.ts"
import { freePort } from "../support/nodeProcess.ts"

/** Node "a": a memory chunk store served over TCP. Resolves with its address. */
const servingNode = Effect.gen(function*() {
  const port = yield* freePort
  const communicator = yield* Communicator
  return yield* communicator.serve(ChunkApi, `127.0.0.1:${port}`).pipe(
    Effect.provide(ChunkApiHandlers.pipe(
      Layer.provide(ChunkServiceMemory),
      Layer.provide(StaticClusterService({ selfId: "a", members: [{ id: "a", address: "127.0.0.1:1" }] })),
      Layer.provide(BoundedAdmission())
    ))
  )
})

/** Node "a" whose stage never answers; `stopped` completes when the server stops the handler. */
const silentNode = (stopped: Deferred.Deferred<void>) =>
  Effect.gen(function*() {
    const port = yield* freePort
    const communicator = yield* Communicator
    const silentStage = Layer.effect(
      ChunkService,
      Effect.map(ChunkService, (store) => ({
        ...store,
        stage: () => Effect.never.pipe(Effect.onInterrupt(() => Deferred.succeed(stopped, undefined)))
      }))
    ).pipe(Layer.provide(ChunkServiceMemory))
    return yield* communicator.serve(ChunkApi, `127.0.0.1:${port}`).pipe(
      Effect.provide(ChunkApiHandlers.pipe(
        Layer.provide(silentStage),
        Layer.provide(StaticClusterService({ selfId: "a", members: [{ id: "a", address: "127.0.0.1:1" }] })),
        Layer.provide(BoundedAdmission())
      ))
    )
  })

/** Node "b"'s ChunkPeers, knowing "a" at `address` and "c" at an address nobody serves. */
const peersOf = (address: string, deadAddress: string, callTimeout: Duration.DurationInput = "5 seconds") =>
  Effect.gen(function*() {
    const membership = StaticClusterService({
      selfId: "b",
      members: [{ id: "a", address }, { id: "b", address: "127.0.0.1:1" }, { id: "c", address: deadAddress }]
    })
    const context = yield* Layer.build(
      RpcChunkPeers({ callTimeout }).pipe(
        Layer.provide(Layer.mergeAll(ChunkServiceMemory, membership, StaticEndpointResolver.pipe(Layer.provide(membership))))
      )
    )
    return yield* Effect.provide(ChunkPeers, context)
  })

describe("chunk peers over TCP", () => {
  it.scopedLive("stage, read, commit, list and remove on a remote node; typed errors; unreachable peers", () =>
    Effect.gen(function*() {
      const address = yield* servingNode
      const dead = `127.0.0.1:${yield* freePort}`
      const peers = yield* peersOf(address, dead)
      const a = yield* peers.forNode("a")
      const data = patternBytes(3 * 1024 * 1024 + 17, 5)
      yield* a.stage("v1", data, crc32c(data))
      expectBytes(yield* a.read("v1", 1000, 2 * 1024 * 1024), data.subarray(1000, 1000 + 2 * 1024 * 1024))
      expect((yield* a.list).staged).toEqual(["v1"])
      yield* a.commit(["v1"])
      expect(yield* a.list).toEqual({ staged: [], committed: ["v1"] })
      // typed errors cross the wire
      expect((yield* Effect.flip(a.stage("v2", data, crc32c(data) ^ 1)))._tag).toBe("InvalidArgument")
      expect((yield* Effect.flip(a.read("missing", 0, 1)))._tag).toBe("NotFound")
      expect((yield* Effect.flip(a.stage("../escape", data, crc32c(data))))._tag).toBe("InvalidArgument")
      yield* a.remove(["v1", "never-staged"])
      expect(yield* a.list).toEqual({ staged: [], committed: [] })
      // this node is served locally; an unknown or unreachable node is Unavailable
      const b = yield* peers.forNode("b")
      yield* b.stage("local", data.subarray(0, 10), crc32c(data.subarray(0, 10)))
      expect((yield* Effect.flip(peers.forNode("zz")))._tag).toBe("Unavailable")
      const c = yield* peers.forNode("c")
      expect((yield* Effect.flip(c.read("x", 0, 1)))._tag).toBe("Unavailable")
    }).pipe(Effect.provide(TcpCommunicator)))

  it.scopedLive("a peer that does not answer within the call timeout is Timeout, and its handler is stopped", () =>
    Effect.gen(function*() {
      const stopped = yield* Deferred.make<void>()
      const address = yield* silentNode(stopped)
      const peers = yield* peersOf(address, `127.0.0.1:${yield* freePort}`, "200 millis")
      const a = yield* peers.forNode("a")
      const data = patternBytes(1024, 3)
      expect((yield* Effect.flip(a.stage("v1", data, crc32c(data))))._tag).toBe("Timeout")
      yield* Deferred.await(stopped)
      // The connection stays usable for the next call.
      expect(yield* a.list).toEqual({ staged: [], committed: [] })
    }).pipe(Effect.provide(TcpCommunicator)))

  it.scopedLive("probing membership marks a node that stops answering as down, and the others alive", () =>
    Effect.gen(function*() {
      const address = yield* servingNode
      const dead = `127.0.0.1:${yield* freePort}`
      const context = yield* Layer.build(ProbingClusterService({
        selfId: "b",
        members: [{ id: "a", address }, { id: "b", address: "127.0.0.1:1" }, { id: "c", address: dead }],
        interval: "50 millis",
        suspectAfter: "300 millis"
      }))
      const cluster = Context.get(context, ClusterService)
      const view = yield* cluster.changes.pipe(
        Stream.filter((members) => members.some((m) => m.id === "c" && !m.alive)),
        Stream.runHead,
        Effect.timeout("10 seconds")
      )
      const alive = Object.fromEntries(Option.getOrThrow(view).map((m) => [m.id, m.alive]))
      expect(alive).toEqual({ a: true, b: true, c: false })
    }).pipe(Effect.provide(TcpCommunicator)))
})
