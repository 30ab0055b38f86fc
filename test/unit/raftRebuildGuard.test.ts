/**
 * The rebuild guard of the Raft replicator: a node started with the rebuild marker present (its
 * WAL and store wiped, its vote forgotten) takes no part in elections until it has caught up
 * from a leader, then removes the marker and votes again. Real WALs and stores on disk, the
 * in-memory network, TestClock.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit } from "effect"
import { existsSync, rmSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import type { MetadataCommand } from "../../src/domain/commands.ts"
import { ROOT_INODE } from "../../src/domain/fs.ts"
import { makeRaftCluster, type RaftCluster } from "../support/raft-cluster.ts"
import { tempDir } from "../support/tempDir.ts"

const mkdir = (name: string): MetadataCommand => ({
  _tag: "Mkdir", parent: ROOT_INODE, name, mode: 0o755, uid: 0, gid: 0, now: 1_700_000_000_000
})

/** More than three randomized election timeouts (10..20 ticks each). */
const LEADERLESS_TICKS = 80

/** Whether one of `ids` leads within `ticks`. */
const someoneLeads = (cluster: RaftCluster, ids: ReadonlyArray<string>, ticks: number) =>
  Effect.gen(function*() {
    for (let i = 0; i < ticks; i++) {
      const statuses = yield* cluster.statuses
      if (statuses.some((s) => ids.includes(s.nodeId) && s.role === "leader")) return true
      yield* cluster.tick
    }
    return false
  })

/**
 * Three nodes with some committed entries; then the leader is cut off and follower `wiped`
 * restarts with an empty WAL and store (as `sandstore rebuild` leaves it), with or without the
 * marker. Only `wiped` and the other follower can talk: a leader needs `wiped`'s vote.
 */
const wipedWhileLeaderIsAway = (options: { readonly marker: boolean; readonly snapshotThreshold?: number }) =>
  Effect.gen(function*() {
    const dir = yield* tempDir("sandstore-rebuild-guard-")
    const markerPath = join(dir, "REBUILDING")
    const cluster = yield* makeRaftCluster({
      disk: dir,
      replicator: { batchWaitMillis: 0, rebuildMarker: markerPath, snapshotThreshold: options.snapshotThreshold ?? 1000, snapshotCatchUpEntries: 0 }
    })
    yield* cluster.startAll
    const leader = yield* cluster.leader()
    for (let i = 0; i < 12; i++) {
      expect(Exit.isSuccess(yield* cluster.settle(cluster.replicator(leader).propose(mkdir(`d${i}`))))).toBe(true)
    }
    const [wiped, other] = cluster.ids.filter((id) => id !== leader) as [string, string]
    yield* cluster.waitFor("every node applying the leader's commit", Effect.map(cluster.statuses, (all) => {
      const top = Math.max(...all.map((s) => s.commitIndex))
      return all.every((s) => s.appliedIndex === top)
    }))

    yield* cluster.stop(wiped)
    const appliedBeforeWipe = cluster.applied(wiped).length
    rmSync(join(dir, wiped), { recursive: true, force: true })
    // The nodes still running checked for the marker when they started; only `wiped` sees it.
    if (options.marker) writeFileSync(markerPath, "")
    yield* cluster.network.isolate(leader)
    yield* cluster.start(wiped)
    return { cluster, leader, wiped, other, markerPath, appliedBeforeWipe }
  })

describe("Raft rebuild guard", () => {
  it.scoped("without the marker, a wiped follower votes at once (what the guard prevents)", () =>
    Effect.gen(function*() {
      const { cluster, other, wiped } = yield* wipedWhileLeaderIsAway({ marker: false })
      expect(yield* someoneLeads(cluster, [other], LEADERLESS_TICKS)).toBe(true)
      expect((yield* cluster.status(wiped)).role).toBe("follower")
    }))

  it.scoped("a rebuilding node ignores vote requests until it has caught up from a leader, then votes again", () =>
    Effect.gen(function*() {
      const { cluster, leader, markerPath, other, wiped } = yield* wipedWhileLeaderIsAway({ marker: true })
      // `other` campaigns over and over, but without `wiped`'s vote it never leads.
      expect(yield* someoneLeads(cluster, [other, wiped], LEADERLESS_TICKS)).toBe(false)
      expect((yield* cluster.status(wiped)).appliedIndex).toBe(0)
      expect(existsSync(markerPath)).toBe(true)

      // With the old leader back, one of the two that kept their logs leads; `wiped` catches up.
      yield* cluster.network.rejoin(leader)
      const current = yield* cluster.leader()
      expect(current).not.toBe(wiped)
      yield* cluster.waitFor("the rebuilt node catching up and removing the marker", Effect.gen(function*() {
        const top = (yield* cluster.status(current)).commitIndex
        return (yield* cluster.status(wiped)).appliedIndex >= top && !existsSync(markerPath)
      }))

      // Now it votes: with the current leader cut off, the other survivor needs its vote and gets it.
      yield* cluster.network.isolate(current)
      const survivor = cluster.ids.find((id) => id !== current && id !== wiped)!
      expect(yield* someoneLeads(cluster, [survivor, wiped], LEADERLESS_TICKS)).toBe(true)
    }))

  it.scoped("catching up by the leader's snapshot also ends the guard", () =>
    Effect.gen(function*() {
      // Snapshots every 5 entries: the leader's log is compacted past index 1, so the wiped node needs the snapshot.
      const { appliedBeforeWipe, cluster, leader, markerPath, other, wiped } = yield* wipedWhileLeaderIsAway({ marker: true, snapshotThreshold: 5 })
      expect(yield* someoneLeads(cluster, [other, wiped], LEADERLESS_TICKS)).toBe(false)
      yield* cluster.network.rejoin(leader)
      yield* cluster.leader()
      yield* cluster.waitFor("the rebuilt node installing a snapshot and removing the marker", Effect.gen(function*() {
        const status = yield* cluster.status(wiped)
        return status.appliedIndex >= 12 && !existsSync(markerPath)
      }))
      // It never applied the compacted entries one by one: it restored the snapshot.
      expect(cluster.applied(wiped).slice(appliedBeforeWipe).includes(1)).toBe(false)
    }))
})
