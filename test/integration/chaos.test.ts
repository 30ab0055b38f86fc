/**
 * `sandstore chaos`: the nemesis's schedule against a stand-in cluster under TestClock, then
 * a short real run (3 node processes, 3 clients, kills and pauses, replies lost) that must lose
 * no acknowledged write, apply none twice and stay linearizable, and a run interrupted midway that must leave no
 * process and no data dir behind.
 */
import { NodeContext } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { Clock, Deferred, Duration, Effect, Fiber, Layer, Option, TestClock } from "effect"
import { existsSync } from "node:fs"
import { connect } from "node:net"
import { TcpCommunicator } from "../../layers/transport/tcp.ts"
import type { LocalCluster, NodeState } from "../../src/chaos/localCluster.ts"
import { type Fault, runNemesis } from "../../src/chaos/nemesis.ts"
import { reportLines } from "../../src/chaos/report.ts"
import { runChaos } from "../../src/chaos/runChaos.ts"

/** A cluster that only keeps each node's state; n1 always leads. */
const standInCluster = (nodes: number) => {
  const ids = Array.from({ length: nodes }, (_, k) => `n${k + 1}`)
  const states = new Map<string, NodeState>(ids.map((id) => [id, "running"]))
  const set = (id: string, state: NodeState) => Effect.sync(() => void states.set(id, state))
  const cluster: LocalCluster = {
    ids,
    addresses: ids.map((_, k) => `127.0.0.1:${9001 + k}`),
    state: (id) => states.get(id)!,
    start: (id) => set(id, "running"),
    kill: (id) => set(id, "down"),
    pause: (id) => set(id, "paused"),
    resume: (id) => set(id, "running"),
    heal: Effect.forEach(ids, (id) => set(id, "running"), { discard: true }),
    currentLeader: Effect.succeed(Option.some("n1")),
    awaitLeader: () => Effect.succeed("n1"),
    crashes: () => []
  }
  return { cluster, states }
}

const nemesisFaults = (nodes: number, seed: number, seconds: number) =>
  Effect.gen(function*() {
    const { cluster, states } = standInCluster(nodes)
    const now = yield* Clock.currentTimeMillis
    const fiber = yield* Effect.fork(runNemesis({ cluster, seed, startedAt: now, stopAt: now + seconds * 1000 }))
    yield* TestClock.adjust(Duration.seconds(seconds + 30))
    const faults = yield* Fiber.join(fiber)
    return { faults, states }
  })

const kills = (faults: ReadonlyArray<Fault>) => faults.flatMap((f) => f.targets).filter((t) => t.action === "kill").length
const pauses = (faults: ReadonlyArray<Fault>) => faults.flatMap((f) => f.targets).filter((t) => t.action === "pause").length

describe("chaos nemesis", () => {
  it.effect("one fault at a time, healed before the next; quorum loss takes exactly a majority's worth of nodes", () =>
    Effect.gen(function*() {
      for (const nodes of [3, 5]) {
        const { faults, states } = yield* nemesisFaults(nodes, 11, 120)
        expect(faults.length).toBeGreaterThan(10)
        for (const [i, fault] of faults.entries()) {
          expect(fault.end).toBeGreaterThanOrEqual(fault.start)
          if (i > 0) expect(fault.start).toBeGreaterThan(faults[i - 1]!.end)
          const expected = fault.kind === "quorum-loss" ? nodes - (Math.floor(nodes / 2) + 1) + 1 : 1
          expect(new Set(fault.targets.map((t) => t.nodeId)).size).toBe(expected)
          if (fault.kind === "kill-leader") expect(fault.targets).toEqual([{ nodeId: "n1", action: "kill" }])
        }
        expect(faults.some((f) => f.kind === "quorum-loss")).toBe(true)
        expect([...states.values()].every((state) => state === "running")).toBe(true)
      }
    }))

  it.effect("the first four faults are two kills and two pauses, so even a short run sees both", () =>
    Effect.gen(function*() {
      for (const seed of [1, 2, 3, 4, 5, 6, 7, 8]) {
        const { faults } = yield* nemesisFaults(3, seed, 60)
        const first = faults.slice(0, 4)
        expect(kills(first)).toBe(2)
        expect(pauses(first)).toBe(2)
        expect(first.some((f) => f.kind === "quorum-loss")).toBe(false)
      }
    }))

  it.effect("the same seed gives the same faults at the same times", () =>
    Effect.gen(function*() {
      const a = yield* nemesisFaults(3, 42, 60)
      const b = yield* nemesisFaults(3, 42, 60)
      const c = yield* nemesisFaults(3, 43, 60)
      expect(b.faults).toEqual(a.faults)
      expect(c.faults).not.toEqual(a.faults)
    }))
})

const RealProcesses = Layer.mergeAll(NodeContext.layer, TcpCommunicator)

/** Resolves true if something accepts connections at host:port. */
const accepting = (address: string) =>
  Effect.async<boolean>((resume) => {
    const [host, port] = address.split(":")
    const socket = connect({ host: host!, port: Number(port) })
    socket.once("connect", () => {
      socket.destroy()
      resume(Effect.succeed(true))
    })
    socket.once("error", () => {
      socket.destroy()
      resume(Effect.succeed(false))
    })
  })

describe("sandstore chaos against real processes", () => {
  it.live("a 15 s run with kills, pauses and lost replies loses no acknowledged write, applies none twice and stays linearizable", () =>
    Effect.gen(function*() {
      const report = yield* runChaos({
        nodes: 3,
        clients: 3,
        duration: Duration.seconds(15),
        // Seed 1 pauses a node at about 2.4 s and kills the leader at about 5.8 s.
        seed: 1,
        replyLoss: 0.05,
        host: "127.0.0.1",
        basePort: 0
      })
      const summary = reportLines(report).join("\n")
      expect(report.writes.lost, summary).toEqual([])
      expect(report.writes.verified, summary).toBeGreaterThan(0)
      expect(report.repliesLost, summary).toBeGreaterThan(0)
      expect(report.appends.acknowledged, summary).toBeGreaterThan(0)
      expect([...report.appends.duplicated, ...report.appends.lost, ...report.appends.problems], summary).toEqual([])
      expect(kills(report.faults), summary).toBeGreaterThanOrEqual(1)
      expect(pauses(report.faults), summary).toBeGreaterThanOrEqual(1)
      expect(report.recovery._tag, summary).toBe("Recovered")
      expect(report.checks.every((check) => check.verdict.valid), summary).toBe(true)
      expect(report.ok, summary).toBe(true)
      expect(summary).toMatch(/^verdict: ok$/m)
      expect(existsSync(report.dataDir)).toBe(false)
      expect(yield* Effect.forEach(report.addresses, accepting)).toEqual(report.addresses.map(() => false))
    }).pipe(Effect.provide(RealProcesses)), 60_000)

  it.live("interrupted midway (as by Ctrl-C), it stops every node, paused ones included, and removes its data dir", () =>
    Effect.gen(function*() {
      const started = yield* Deferred.make<{ readonly dataDir: string; readonly addresses: ReadonlyArray<string> }>()
      // Seed 1 pauses a node from about 2.4 s to 4.1 s into the run.
      const run = yield* Effect.fork(runChaos(
        { nodes: 3, clients: 2, duration: Duration.seconds(60), seed: 1, replyLoss: 0.05, host: "127.0.0.1", basePort: 0 },
        { started: (cluster) => Deferred.succeed(started, cluster) }
      ))
      const cluster = yield* Deferred.await(started)
      expect(existsSync(cluster.dataDir)).toBe(true)
      yield* Effect.sleep("3 seconds")
      yield* Fiber.interrupt(run)
      expect(existsSync(cluster.dataDir)).toBe(false)
      expect(yield* Effect.forEach(cluster.addresses, accepting)).toEqual(cluster.addresses.map(() => false))
    }).pipe(Effect.provide(RealProcesses)), 60_000)
})
