/**
 * Durability with real processes and real faults (1 of 3): whole-cluster kills and restarts,
 * and the leader killed while a create is in flight. Three `sandstore node` processes with
 * etcd membership; skipped, visibly, when etcd is not installed.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Either, Fiber } from "effect"
import { expectBytes, patternBytes } from "../support/bytes.ts"
import {
  clientThrough, converged, createInRoot, etcdCluster, eventually, failFastClient, leaderOf, pause, resume, statuses
} from "../support/durability.ts"
import { etcdAvailable } from "../support/etcd.ts"

const CHUNK = 64 * 1024

if (!etcdAvailable) {
  describe("durability: crashes and restarts", () => {
    it("needs etcd", () => console.log("SKIPPED: etcd not installed (durability: crashes and restarts)"))
  })
} else {
  describe("durability: crashes and restarts (3 processes, etcd membership)", () => {
    it.scopedLive("(1) kill -9 of all 3 nodes: after a restart a created file is still there", () =>
      Effect.gen(function*() {
        const { cluster } = yield* etcdCluster({ chunkSize: CHUNK })
        const data = patternBytes(CHUNK + 123, 1)
        yield* Effect.scoped(Effect.flatMap(clientThrough(cluster.addresses), (client) => client.writeFile("/survivor", data)))

        yield* Effect.forEach(cluster.ids, (id) => cluster.node(id).kill("SIGKILL"), { concurrency: "unbounded", discard: true })
        yield* Effect.forEach(cluster.ids, cluster.start, { concurrency: "unbounded", discard: true })
        yield* leaderOf(cluster)
        const client = yield* clientThrough(cluster.addresses)
        expectBytes(yield* client.readFile("/survivor"), data)
      }), { timeout: 90_000 })

    it.scopedLive("(5) a full-cluster restart keeps every written file byte for byte", () =>
      Effect.gen(function*() {
        const { cluster } = yield* etcdCluster({ chunkSize: CHUNK })
        // Empty, small, spanning chunks, with a hole, and overwritten in the middle.
        const files = [
          { path: "/empty", data: new Uint8Array(0) },
          { path: "/small", data: patternBytes(1000, 2) },
          { path: "/dir/spans-chunks", data: patternBytes(3 * CHUNK + 17, 3) }
        ]
        const holed = new Uint8Array(2 * CHUNK + 10)
        holed.set(patternBytes(10, 4), 2 * CHUNK)
        const overwritten = patternBytes(2 * CHUNK, 5)
        const patch = patternBytes(1000, 6)
        overwritten.set(patch, CHUNK - 500)
        yield* Effect.scoped(Effect.gen(function*() {
          const client = yield* clientThrough(cluster.addresses)
          yield* client.mkdir("/dir")
          for (const f of files) yield* client.writeFile(f.path, f.data)
          yield* Effect.scoped(Effect.flatMap(client.openScoped("/holed", "w"), (h) => h.write(patternBytes(10, 4), 2 * CHUNK)))
          yield* client.writeFile("/overwritten", patternBytes(2 * CHUNK, 5))
          yield* Effect.scoped(Effect.flatMap(client.openScoped("/overwritten", "r+"), (h) => h.write(patch, CHUNK - 500)))
        }))

        // Stop every node the way an operator does (SIGTERM), then start them all again.
        yield* Effect.forEach(cluster.ids, (id) => cluster.node(id).kill("SIGTERM"), { concurrency: "unbounded", discard: true })
        expect(cluster.ids.map((id) => cluster.node(id).process.exitCode)).toEqual([0, 0, 0])
        yield* Effect.forEach(cluster.ids, cluster.start, { concurrency: "unbounded", discard: true })
        yield* leaderOf(cluster)
        const client = yield* clientThrough(cluster.addresses)
        for (const f of files) expectBytes(yield* client.readFile(f.path), f.data)
        expectBytes(yield* client.readFile("/holed"), holed)
        expectBytes(yield* client.readFile("/overwritten"), overwritten)
        expect([...yield* client.readdir("/")].sort()).toEqual(["dir", "empty", "holed", "overwritten", "small"])
      }), { timeout: 90_000 })

    it.scopedLive("(2) followers paused, leader killed during a create: once recovered every node agrees on the file", () =>
      Effect.gen(function*() {
        const { cluster } = yield* etcdCluster({ chunkSize: CHUNK })
        const leader = yield* leaderOf(cluster)
        const followers = cluster.ids.filter((id) => id !== leader)
        const leaderAddress = cluster.addresses[cluster.ids.indexOf(leader)]!
        const before = (yield* statuses(cluster)).get(leader)!

        yield* Effect.forEach(followers, (id) => pause(cluster.node(id)), { discard: true })
        const create = yield* Effect.fork(createInRoot(leaderAddress, "in-flight"))
        // In flight: the leader has appended the create but cannot commit it without a follower.
        yield* eventually("the leader holds an uncommitted entry", Effect.flatMap(statuses(cluster), (byId) => {
          const s = byId.get(leader)
          return s !== undefined && s.lastIndex > before.lastIndex && s.lastIndex > s.commitIndex
            ? Effect.void
            : Effect.fail(new Error(`leader: ${JSON.stringify(s)}`))
        }), "5 seconds")
        yield* cluster.node(leader).kill("SIGKILL")
        const outcome = yield* Fiber.join(create)
        expect(Either.isLeft(outcome)).toBe(true)

        yield* Effect.forEach(followers, (id) => resume(cluster.node(id)), { discard: true })
        yield* cluster.start(leader)
        const views = yield* converged(cluster)
        expect(new Set([...views.values()].map((s) => s.appliedIndex)).size).toBe(1)

        // A linearizable read through each node: the file is everywhere or nowhere.
        const seen: Array<boolean> = []
        for (const address of cluster.addresses) {
          const exists = yield* Effect.scoped(Effect.flatMap(clientThrough([address]), (client) =>
            client.stat("/in-flight").pipe(
              Effect.as(true),
              Effect.catchIf((e) => e._tag === "NotFound", () => Effect.succeed(false))
            )))
          seen.push(exists)
        }
        expect(new Set(seen).size, `views of /in-flight through ${cluster.ids.join(", ")}: ${seen.join(", ")}`).toBe(1)
        // The cluster still writes.
        const client = yield* clientThrough(cluster.addresses)
        yield* client.writeFile("/after", patternBytes(10, 8))
        expectBytes(yield* client.readFile("/after"), patternBytes(10, 8))
      }), { timeout: 90_000 })

    it.scopedLive("(6) kill -9 of the leader during a create: a new leader is elected and new writes succeed", () =>
      Effect.gen(function*() {
        const { cluster } = yield* etcdCluster({ chunkSize: CHUNK })
        const leader = yield* leaderOf(cluster)
        const writer = yield* failFastClient([cluster.addresses[cluster.ids.indexOf(leader)]!])
        let created = 0
        // Creates back to back, so the kill lands while one is in flight.
        const creating = yield* Effect.fork(Effect.either(Effect.forever(Effect.suspend(() =>
          Effect.zipRight(writer.writeFile(`/before-${created}`, patternBytes(100, created)), Effect.sync(() => created++))
        ))))
        yield* eventually("some creates are acknowledged", Effect.suspend(() =>
          created >= 5 ? Effect.void : Effect.fail(new Error(`${created} created`))))
        yield* cluster.node(leader).kill("SIGKILL")
        expect(Either.isLeft(yield* Fiber.join(creating))).toBe(true)

        const survivors = cluster.addresses.filter((_, i) => cluster.ids[i] !== leader)
        const next = yield* eventually("a new leader among the survivors", Effect.flatMap(statuses(cluster), (byId) => {
          const leaders = [...byId.values()].filter((s) => s.role === "leader")
          return leaders.length === 1 && leaders[0]!.nodeId !== leader
            ? Effect.succeed(leaders[0]!.nodeId)
            : Effect.fail(new Error(`views: ${JSON.stringify([...byId.values()])}`))
        }))
        expect(next).not.toBe(leader)
        const client = yield* clientThrough(survivors)
        for (let i = 0; i < 5; i++) yield* client.writeFile(`/after-${i}`, patternBytes(2000, 100 + i))
        for (let i = 0; i < 5; i++) expectBytes(yield* client.readFile(`/after-${i}`), patternBytes(2000, 100 + i))
        // Every acknowledged create survived the kill.
        for (let i = 0; i < created; i++) expectBytes(yield* client.readFile(`/before-${i}`), patternBytes(100, i))
      }), { timeout: 90_000 })
  })
}
