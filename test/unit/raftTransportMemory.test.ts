import { describe, expect, it } from "@effect/vitest"
import { Context, Effect, Exit, Layer, Scope, TestClock } from "effect"
import { makeMemoryNetwork, type MemoryNetwork } from "../../layers/raftTransport/memory.ts"
import type { Message } from "../../src/raft/types.ts"
import { RaftTransport, type RaftTransportShape } from "../../src/services/RaftTransport.ts"

const heartbeat = (from: string, to: string, n: number): Message => ({
  _tag: "AppendEntries", from, to, term: 1, prevLogIndex: 0, prevLogTerm: 0, entries: [], leaderCommit: n, readContext: n
})

const attach = (network: MemoryNetwork, nodeId: string) =>
  Effect.map(Layer.build(network.transport(nodeId)), (context) => Context.get(context, RaftTransport))

const received = (transport: RaftTransportShape) =>
  Effect.sync(() => transport.incoming.poll().map((m) => m._tag === "AppendEntries" ? m.leaderCommit : -1))

const sendAll = (transport: RaftTransportShape, from: string, to: string, count: number) =>
  transport.send(Array.from({ length: count }, (_, i) => heartbeat(from, to, i)))

describe("memory RaftTransport network", () => {
  it.scoped("delivers to the addressed node; cut links and isolated nodes drop, both ways", () =>
    Effect.gen(function*() {
      const network = yield* makeMemoryNetwork()
      const [a, b, c] = yield* Effect.all([attach(network, "a"), attach(network, "b"), attach(network, "c")])
      yield* a.send([heartbeat("a", "b", 1)])
      expect(yield* received(b)).toEqual([1])
      expect(yield* received(c)).toEqual([])

      yield* network.cut("a", "b")
      yield* a.send([heartbeat("a", "b", 2)])
      yield* b.send([heartbeat("b", "a", 3)])
      yield* a.send([heartbeat("a", "c", 4)])
      expect(yield* received(b)).toEqual([])
      expect(yield* received(a)).toEqual([])
      expect(yield* received(c)).toEqual([4])
      yield* network.mend("a", "b")
      yield* a.send([heartbeat("a", "b", 5)])
      expect(yield* received(b)).toEqual([5])

      yield* network.isolate("c")
      yield* a.send([heartbeat("a", "c", 6)])
      yield* c.send([heartbeat("c", "b", 7)])
      expect(yield* received(c)).toEqual([])
      expect(yield* received(b)).toEqual([])
      yield* network.rejoin("c")
      yield* c.send([heartbeat("c", "b", 8)])
      expect(yield* received(b)).toEqual([8])
      expect((yield* network.stats)).toMatchObject({ delivered: 4, dropped: 4, deliveredByTag: { AppendEntries: 4 } })
    }))

  it.scoped("drops the same messages for the same seed", () =>
    Effect.gen(function*() {
      const run = (seed: number) =>
        Effect.scoped(Effect.gen(function*() {
          const network = yield* makeMemoryNetwork({ seed })
          const [a, b] = yield* Effect.all([attach(network, "a"), attach(network, "b")])
          yield* network.setDropRate(0.5)
          yield* sendAll(a, "a", "b", 200)
          return yield* received(b)
        }))
      const first = yield* run(42)
      expect(yield* run(42)).toEqual(first)
      expect(first.length).toBeGreaterThan(60)
      expect(first.length).toBeLessThan(140)
      expect(yield* run(43)).not.toEqual(first)
    }))

  it.scoped("delays delivery by the Clock, reordering messages", () =>
    Effect.gen(function*() {
      const network = yield* makeMemoryNetwork({ seed: 5 })
      const [a, b] = yield* Effect.all([attach(network, "a"), attach(network, "b")])
      yield* network.setDelay({ min: "1 millis", max: "50 millis" })
      yield* sendAll(a, "a", "b", 20)
      expect(yield* received(b)).toEqual([])
      yield* TestClock.adjust("50 millis")
      const arrived = yield* received(b)
      expect([...arrived].sort((x, y) => x - y)).toEqual(Array.from({ length: 20 }, (_, i) => i))
      expect(arrived).not.toEqual([...arrived].sort((x, y) => x - y))

      yield* network.heal
      yield* a.send([heartbeat("a", "b", 99)])
      expect(yield* received(b)).toEqual([99])
    }))

  it.scoped("a detached node receives nothing; attached again, it starts with an empty inbox", () =>
    Effect.gen(function*() {
      const network = yield* makeMemoryNetwork()
      const a = yield* attach(network, "a")
      const scope = yield* Scope.make()
      const b = yield* attach(network, "b").pipe(Scope.extend(scope))
      yield* a.send([heartbeat("a", "b", 1)])
      yield* Scope.close(scope, Exit.void)
      yield* a.send([heartbeat("a", "b", 2)])
      const restarted = yield* attach(network, "b")
      expect(yield* received(restarted)).toEqual([])
      yield* a.send([heartbeat("a", "b", 3)])
      expect(yield* received(restarted)).toEqual([3])
      expect(b).not.toBe(restarted)
    }))
})
