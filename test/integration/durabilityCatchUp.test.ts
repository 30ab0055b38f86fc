/**
 * Durability with real processes and real faults (2 of 3): a follower that missed hundreds of
 * creates catches up, from the log after a crash, or by the leader's snapshot after a pause or
 * a stop under snapshot pressure. Three `sandstore node` processes with etcd membership;
 * skipped, visibly, when etcd is not installed.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Fiber } from "effect"
import {
  caughtUp, clientThrough, createFiles, etcdCluster, eventually, expectedNames, leaderOf, namesIn, pause, resume, statuses
} from "../support/durability.ts"
import { etcdAvailable } from "../support/etcd.ts"

/** Small enough that a few hundred creates compact the leader's log several times, keeping little of it. */
const SNAPSHOT_THRESHOLD = ["--snapshot-threshold", "100", "--snapshot-catch-up-entries", "20"]

const INSTALLED = "installed the leader's snapshot"

if (!etcdAvailable) {
  describe("durability: catching up", () => {
    it("needs etcd", () => console.log("SKIPPED: etcd not installed (durability: catching up)"))
  })
} else {
  describe("durability: catching up (3 processes, etcd membership)", () => {
    it.scopedLive("(3) a follower killed while 600 files are created restarts and catches up", () =>
      Effect.gen(function*() {
        const { cluster } = yield* etcdCluster()
        const leader = yield* leaderOf(cluster)
        const follower = cluster.ids.find((id) => id !== leader)!
        const client = yield* clientThrough(cluster.addresses)
        yield* client.mkdir("/many")
        const creating = yield* Effect.fork(createFiles(client, "/many", 0, 600))
        // Kill it once the stream of creates is well under way.
        yield* eventually("100 files exist", Effect.flatMap(namesIn(client, "/many"), (names) =>
          names.length >= 100 ? Effect.void : Effect.fail(new Error(`${names.length} files`))))
        yield* cluster.node(follower).kill("SIGKILL")
        yield* Fiber.join(creating)

        yield* cluster.start(follower)
        yield* caughtUp(cluster, follower)
        const through = yield* clientThrough([cluster.addresses[cluster.ids.indexOf(follower)]!])
        expect(yield* namesIn(through, "/many")).toEqual(expectedNames(0, 600))
      }), { timeout: 120_000 })

    it.scopedLive("(4) a follower paused past the snapshot threshold catches up by snapshot once resumed", () =>
      Effect.gen(function*() {
        const { cluster } = yield* etcdCluster({ args: SNAPSHOT_THRESHOLD })
        const leader = yield* leaderOf(cluster)
        const follower = cluster.ids.find((id) => id !== leader)!
        const client = yield* clientThrough(cluster.addresses)
        yield* client.mkdir("/paused")
        const before = yield* caughtUp(cluster, follower)

        yield* pause(cluster.node(follower))
        // Two at a time: small AppendEntries, so the leader's window of 64 unacknowledged ones to
        // the paused follower fills long before the last create, and what follows is compacted.
        yield* createFiles(client, "/paused", 0, 300, 2)
        const leaderView = (yield* statuses(cluster)).get(leader)!
        // The leader compacted its log past everything the follower has: only a snapshot can help.
        expect(leaderView.commitIndex - before.lastIndex).toBeGreaterThan(250)
        yield* resume(cluster.node(follower))

        const after = yield* caughtUp(cluster, follower)
        expect(after.lastIndex).toBeGreaterThanOrEqual(leaderView.commitIndex)
        expect(cluster.node(follower).output()).toContain(INSTALLED)
        const through = yield* clientThrough([cluster.addresses[cluster.ids.indexOf(follower)]!])
        expect(yield* namesIn(through, "/paused")).toEqual(expectedNames(0, 300))
      }), { timeout: 120_000 })

    it.scopedLive("(7) a node stopped during 300 creates under snapshot pressure rejoins", () =>
      Effect.gen(function*() {
        const { cluster } = yield* etcdCluster({ args: SNAPSHOT_THRESHOLD })
        const leader = yield* leaderOf(cluster)
        const away = cluster.ids.find((id) => id !== leader)!
        const client = yield* clientThrough(cluster.addresses)
        yield* client.mkdir("/pressure")
        yield* createFiles(client, "/pressure", 0, 20)
        yield* caughtUp(cluster, away)

        // Scaled away: stopped the way an orchestrator stops it.
        yield* cluster.node(away).kill("SIGTERM")
        yield* createFiles(client, "/pressure", 20, 300)
        const restarted = yield* cluster.start(away)
        yield* caughtUp(cluster, away)
        expect(restarted.output()).toContain(INSTALLED)
        const through = yield* clientThrough([restarted.address])
        expect(yield* namesIn(through, "/pressure")).toEqual(expectedNames(0, 320))
        // It serves the cluster again: with the leader gone, it and the other node elect a leader.
        yield* cluster.node(leader).kill("SIGKILL")
        yield* eventually("a leader among the other two", Effect.flatMap(statuses(cluster), (byId) =>
          [...byId.values()].some((s) => s.role === "leader" && s.nodeId !== leader)
            ? Effect.void
            : Effect.fail(new Error(JSON.stringify([...byId.values()])))))
        const survivors = yield* clientThrough(cluster.addresses.filter((_, i) => cluster.ids[i] !== leader))
        yield* survivors.writeFile("/pressure/after", "ok")
        expect(new TextDecoder().decode(yield* survivors.readFile("/pressure/after"))).toBe("ok")
      }), { timeout: 120_000 })
  })
}
