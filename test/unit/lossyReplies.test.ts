/**
 * The reply-losing Communicator (layers/transport/lossyReplies.ts) that `sandstore chaos`
 * gives its clients: the server carries a lost call out, the caller sees a broken connection;
 * typed answers are lost like values, broken connections are left as they are.
 */
import { Rpc, RpcGroup } from "@effect/rpc"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer, Random, Schema } from "effect"
import { NotFound } from "../../src/domain/errors.ts"
import { Communicator } from "../../src/services/Communicator.ts"
import { makeReplyLoss } from "../../layers/transport/lossyReplies.ts"
import { TcpCommunicator } from "../../layers/transport/tcp.ts"

class Count extends Rpc.make("Count", { payload: {}, success: Schema.Number }) {}
class Missing extends Rpc.make("Missing", { payload: {}, error: NotFound }) {}
const CountApi = RpcGroup.make(Count, Missing)

/** Serves CountApi on a free port; `served()` says how many calls the server carried out. */
const countingServer = Effect.gen(function*() {
  let served = 0
  const handlers = CountApi.toLayer({
    Count: () => Effect.sync(() => ++served),
    Missing: () => Effect.sync(() => ++served).pipe(Effect.zipRight(Effect.fail(new NotFound({ message: "gone", path: "/x" }))))
  })
  const communicator = yield* Communicator
  const address = yield* communicator.serve(CountApi, "127.0.0.1:0").pipe(Effect.provide(handlers))
  return { address, served: () => served }
})

const clientThrough = (loss: ReturnType<typeof makeReplyLoss>, address: string) =>
  Effect.flatMap(Communicator, (communicator) => communicator.client(CountApi, address)).pipe(
    Effect.provide(loss.layer.pipe(Layer.provide(TcpCommunicator)))
  )

describe("lossy replies", () => {
  it.scopedLive("a lost reply is a broken connection to the caller, after the server carried the call out", () =>
    Effect.gen(function*() {
      const server = yield* countingServer
      const loss = makeReplyLoss(1)
      const client = yield* clientThrough(loss, server.address)
      const value = yield* Effect.flip(client.Count({}))
      expect(value._tag).toBe("RpcClientError")
      const typed = yield* Effect.flip(client.Missing({}))
      expect(typed._tag).toBe("RpcClientError")
      expect(server.served()).toBe(2)
      expect(loss.lost()).toBe(2)
    }).pipe(Effect.provide(TcpCommunicator)))

  it.scopedLive("at rate 0 nothing is lost; at 0.5 about half, drawn from the caller's Random", () =>
    Effect.gen(function*() {
      const server = yield* countingServer
      const none = makeReplyLoss(0)
      const reliable = yield* clientThrough(none, server.address)
      for (let i = 1; i <= 20; i++) expect(yield* reliable.Count({})).toBeGreaterThan(0)
      expect((yield* Effect.flip(reliable.Missing({})))._tag).toBe("NotFound")
      expect(none.lost()).toBe(0)

      const half = makeReplyLoss(0.5)
      const lossy = yield* clientThrough(half, server.address)
      const outcomes = yield* Effect.forEach(Array.from({ length: 200 }), () => Effect.either(lossy.Count({}))).pipe(
        Effect.withRandom(Random.make("lossy replies test"))
      )
      const lost = outcomes.filter((outcome) => outcome._tag === "Left").length
      expect(lost).toBe(half.lost())
      expect(lost).toBeGreaterThan(60)
      expect(lost).toBeLessThan(140)
      expect(server.served()).toBe(20 + 1 + 200)
    }).pipe(Effect.provide(TcpCommunicator)))

  it.scopedLive("a call that never reached a server stays a broken connection and is not counted as lost", () =>
    Effect.gen(function*() {
      const loss = makeReplyLoss(1)
      const client = yield* clientThrough(loss, "127.0.0.1:1")
      expect((yield* Effect.flip(client.Count({})))._tag).toBe("RpcClientError")
      expect(loss.lost()).toBe(0)
    }))
})
