import { describe, expect, it } from "@effect/vitest"
import { Cause, Deferred, Effect, Exit, Fiber, Option } from "effect"
import type { MetadataCommand } from "../../src/domain/commands.ts"
import { ROOT_INODE } from "../../src/domain/fs.ts"
import type { SessionId } from "../../src/domain/session.ts"
import { asRequestWithin } from "../../src/lib/deadline.ts"
import { decodeReplicatorRecord } from "../../src/raft/walRecords.ts"
import type { MetadataServiceShape } from "../../src/services/MetadataService.ts"
import { addressOf, makeRaftCluster, type RaftCluster, waitUntil } from "../support/raft-cluster.ts"
import { tempDir } from "../support/tempDir.ts"

const mkdir = (name: string): MetadataCommand => ({
  _tag: "Mkdir", parent: ROOT_INODE, name, mode: 0o755, uid: 0, gid: 0, now: 1_700_000_000_000
})

/** Proposals go to the core at once: the tests move the clock only to drive elections and timeouts. */
const noBatchWait = { batchWaitMillis: 0 }

const names = (store: MetadataServiceShape) =>
  Effect.map(Effect.orDie(store.readdir(ROOT_INODE, null, 1000)), (page) => page.entries.map((entry) => entry.name))

const failureOf = <A, E>(exit: Exit.Exit<A, E>): E | undefined =>
  Exit.isFailure(exit) ? Option.getOrUndefined(Cause.failureOption(exit.cause)) : undefined

/** Propose through `nodeId` while the clock moves; the call's Exit. */
const proposeVia = (cluster: RaftCluster, nodeId: string, command: MetadataCommand) =>
  cluster.settle(cluster.replicator(nodeId).propose(command))

const readVia = (cluster: RaftCluster, nodeId: string) =>
  cluster.settle(cluster.replicator(nodeId).linearizable(names(cluster.store(nodeId))))

/** Wait until every running node has applied what the leader has. */
const converged = (cluster: RaftCluster) =>
  cluster.waitFor(
    "every node applying the leader's log",
    Effect.map(cluster.statuses, (all) => {
      const leader = all.find((s) => s.role === "leader")
      return leader !== undefined && all.every((s) => s.appliedIndex === leader.commitIndex)
    })
  )

const strictlyIncreasing = (indices: ReadonlyArray<number>) => indices.every((index, i) => i === 0 || index > indices[i - 1]!)

/**
 * Three nodes compacting every 5 entries with nothing kept behind; one stopped while 30
 * directories are made, so the entries it misses are compacted away on the others.
 */
const laggardBehindCompaction = Effect.gen(function*() {
  const cluster = yield* makeRaftCluster({
    replicator: { ...noBatchWait, snapshotThreshold: 5, snapshotCatchUpEntries: 0, snapshotChunkBytes: 512 }
  })
  yield* cluster.startAll
  const leader = yield* cluster.leader()
  const laggard = cluster.ids.find((id) => id !== leader)!
  yield* cluster.stop(laggard)
  const all = Array.from({ length: 30 }, (_, i) => `dir-${String(i).padStart(2, "0")}`)
  for (const name of all) expect(Exit.isSuccess(yield* proposeVia(cluster, leader, mkdir(name)))).toBe(true)
  yield* cluster.ticks(2)
  return { cluster, leader, laggard, all }
})

describe("RaftReplicator", () => {
  it.scoped("three nodes elect one leader; proposals through it return the state machine's results", () =>
    Effect.gen(function*() {
      const cluster = yield* makeRaftCluster({ replicator: noBatchWait })
      yield* cluster.startAll
      const leader = yield* cluster.leader()

      const created = yield* proposeVia(cluster, leader, mkdir("docs"))
      expect(Exit.isSuccess(created) && created.value).toMatchObject({ type: "directory", mode: 0o755 })
      const duplicate = failureOf(yield* proposeVia(cluster, leader, mkdir("docs")))
      expect(duplicate?._tag).toBe("AlreadyExists")
      const invalid = failureOf(
        yield* proposeVia(cluster, leader, { ...mkdir("x"), parent: -3 } as unknown as MetadataCommand)
      )
      expect(invalid?._tag).toBe("InvalidArgument")

      yield* converged(cluster)
      for (const id of cluster.ids) {
        expect(yield* names(cluster.store(id))).toEqual(["docs"])
        // The leader's no-op and both mkdirs (the duplicate is applied as an EEXIST outcome), once each.
        expect(cluster.applied(id)).toEqual([1, 2, 3])
      }
    }))

  it.scoped("many concurrent proposals share WAL fsyncs (group commit)", () =>
    Effect.gen(function*() {
      const cluster = yield* makeRaftCluster({ replicator: noBatchWait })
      yield* cluster.startAll
      const leader = yield* cluster.leader()
      const before = yield* cluster.wal(leader).fsyncs
      const all = Array.from({ length: 64 }, (_, i) => mkdir(`d${i}`))
      const exit = yield* cluster.settle(
        Effect.forEach(all, (command) => cluster.replicator(leader).propose(command), { concurrency: "unbounded" })
      )
      expect(Exit.isSuccess(exit)).toBe(true)
      const fsyncs = (yield* cluster.wal(leader).fsyncs) - before
      expect(fsyncs).toBeGreaterThan(0)
      expect(fsyncs).toBeLessThanOrEqual(8)
      expect((yield* names(cluster.store(leader))).length).toBe(64)
    }))

  it.scoped("proposals commit, and every store ends the same, while the network drops and reorders messages", () =>
    Effect.gen(function*() {
      const cluster = yield* makeRaftCluster({ replicator: { ...noBatchWait, proposalTimeout: "60 seconds" }, networkSeed: 11 })
      yield* cluster.startAll
      yield* cluster.leader()
      yield* cluster.network.setDropRate(0.2)
      yield* cluster.network.setDelay({ min: "1 millis", max: "40 millis" })
      const all = Array.from({ length: 20 }, (_, i) => `lossy-${String(i).padStart(2, "0")}`)
      const session = "7".repeat(32) as SessionId
      const opened = Effect.gen(function*() {
        const leader = yield* cluster.leader()
        return yield* cluster.settle(cluster.replicator(leader).propose({ _tag: "OpenSession", session, create: true, now: 1_700_000_000_000 }))
      }).pipe(Effect.repeat({ until: Exit.isSuccess, times: 10 }))
      expect(Exit.isSuccess(yield* opened)).toBe(true)
      for (const [i, name] of all.entries()) {
        // Whoever leads now takes the write. A retry (after NotLeader, or an unknown outcome)
        // is the same session request, so the state machine applies the mkdir once.
        const request = { session, seq: i + 1, ackedBelow: i + 1, digest: i }
        const attempt = Effect.gen(function*() {
          const leader = yield* cluster.leader()
          return yield* cluster.settle(cluster.replicator(leader).propose(mkdir(name), request))
        })
        const committed = yield* attempt.pipe(Effect.repeat({ until: Exit.isSuccess, times: 10 }))
        expect(Exit.isSuccess(committed)).toBe(true)
      }
      yield* converged(cluster)
      for (const id of cluster.ids) expect(yield* names(cluster.store(id))).toEqual(all)
      expect((yield* cluster.network.stats).dropped).toBeGreaterThan(0)
    }))

  it.scoped("a follower answers NotLeader with the leader's id and address", () =>
    Effect.gen(function*() {
      const cluster = yield* makeRaftCluster({ replicator: noBatchWait })
      yield* cluster.startAll
      const leader = yield* cluster.leader()
      const follower = cluster.ids.find((id) => id !== leader)!

      const write = failureOf(yield* proposeVia(cluster, follower, mkdir("nope")))
      expect(write).toMatchObject({ _tag: "NotLeader", leaderId: leader, address: addressOf(leader) })
      const read = failureOf(yield* readVia(cluster, follower))
      expect(read).toMatchObject({ _tag: "NotLeader", leaderId: leader, address: addressOf(leader) })
      expect(yield* names(cluster.store(follower))).toEqual([])
    }))

  it.scoped("an isolated old leader neither commits nor serves reads; a new leader serves both", () =>
    Effect.gen(function*() {
      // Long enough that the stale proposal is still waiting when the partition heals.
      const cluster = yield* makeRaftCluster({ replicator: { ...noBatchWait, proposalTimeout: "60 seconds" } })
      yield* cluster.startAll
      const oldLeader = yield* cluster.leader()
      const others = cluster.ids.filter((id) => id !== oldLeader)

      yield* cluster.network.isolate(oldLeader)
      const staleWrite = yield* Effect.fork(cluster.replicator(oldLeader).propose(mkdir("stale")))
      const staleRead = yield* Effect.fork(cluster.replicator(oldLeader).linearizable(names(cluster.store(oldLeader))))

      const newLeader = yield* cluster.leader(others)
      expect(newLeader).not.toBe(oldLeader)
      expect(Exit.isSuccess(yield* proposeVia(cluster, newLeader, mkdir("fresh")))).toBe(true)
      const read = yield* readVia(cluster, newLeader)
      expect(Exit.isSuccess(read) && read.value).toEqual(["fresh"])

      // Check-quorum makes the old leader step down: the read it could not confirm is refused.
      yield* cluster.waitFor("the stale read to end", Effect.map(Fiber.poll(staleRead), Option.isSome))
      expect(failureOf(yield* Fiber.await(staleRead))?._tag).toBe("NotLeader")
      expect(Option.isNone(yield* Fiber.poll(staleWrite))).toBe(true)
      expect(yield* names(cluster.store(oldLeader))).toEqual([])

      // Rejoining, the old leader learns that another entry committed at its proposal's index.
      yield* cluster.network.heal
      yield* cluster.waitFor("the stale write to end", Effect.map(Fiber.poll(staleWrite), Option.isSome))
      expect(failureOf(yield* Fiber.await(staleWrite))?._tag).toBe("Unavailable")
      yield* converged(cluster)
      for (const id of cluster.ids) expect(yield* names(cluster.store(id))).toEqual(["fresh"])
    }))

  it.scoped("a proposer is answered once its outcome is decided, before the store write lands; reads wait for the write", () =>
    Effect.gen(function*() {
      const cluster = yield* makeRaftCluster({ ids: ["n1"], replicator: noBatchWait })
      // Once armed, the store's writes land only when the gate opens.
      const gate = yield* Deferred.make<void>()
      let armed = false
      cluster.wrapStore("n1", (inner) => ({
        ...inner,
        applyAll: (entries, onDecided) =>
          Effect.zipLeft(inner.applyAll(entries, onDecided), Effect.suspend(() => (armed ? Deferred.await(gate) : Effect.void)))
      }))
      yield* cluster.startAll
      const leader = yield* cluster.leader()
      armed = true
      const created = yield* proposeVia(cluster, leader, mkdir("early"))
      expect(Exit.isSuccess(created) && created.value).toMatchObject({ type: "directory" })
      const read = yield* Effect.fork(cluster.replicator(leader).linearizable(names(cluster.store(leader))))
      yield* cluster.ticks(5)
      expect(read.unsafePoll()).toBeNull()
      yield* Deferred.succeed(gate, undefined)
      const listed = yield* cluster.settle(Fiber.join(read))
      expect(Exit.isSuccess(listed) && listed.value).toEqual(["early"])
    }))

  it.scoped("a proposal with no outcome within proposalTimeout fails with Timeout", () =>
    Effect.gen(function*() {
      const cluster = yield* makeRaftCluster({ replicator: { ...noBatchWait, proposalTimeout: "2 seconds" } })
      yield* cluster.startAll
      const leader = yield* cluster.leader()
      yield* cluster.network.isolate(leader)
      const exit = yield* proposeVia(cluster, leader, mkdir("unknown"))
      expect(failureOf(exit)?._tag).toBe("Timeout")
    }))

  it.scoped("a proposal and a read fail with Timeout by their request's deadline, well before proposalTimeout", () =>
    Effect.gen(function*() {
      const cluster = yield* makeRaftCluster({ replicator: { ...noBatchWait, proposalTimeout: "60 seconds" } })
      yield* cluster.startAll
      const leader = yield* cluster.leader()
      yield* cluster.network.isolate(leader)
      // The server sets no timer around a metadata request: the replicator must end it by its deadline.
      const proposal = yield* Effect.fork(asRequestWithin(1000)(cluster.replicator(leader).propose(mkdir("late"))))
      const read = yield* Effect.fork(asRequestWithin(1000)(cluster.replicator(leader).linearizable(Effect.void)))
      yield* cluster.ticks(30) // 1.5 s of 50 ms ticks
      expect(failureOf(Option.getOrThrow(yield* Fiber.poll(proposal)))?._tag).toBe("Timeout")
      expect(failureOf(Option.getOrThrow(yield* Fiber.poll(read)))?._tag).toBe("Timeout")
    }))

  it.scoped("a restarted node rejoins from its WAL without applying any entry twice", () =>
    Effect.gen(function*() {
      const cluster = yield* makeRaftCluster({ replicator: noBatchWait })
      yield* cluster.startAll
      const leader = yield* cluster.leader()
      const follower = cluster.ids.find((id) => id !== leader)!
      for (const name of ["a", "b", "c"]) expect(Exit.isSuccess(yield* proposeVia(cluster, leader, mkdir(name)))).toBe(true)
      yield* converged(cluster)

      yield* cluster.stop(follower)
      for (const name of ["d", "e"]) expect(Exit.isSuccess(yield* proposeVia(cluster, leader, mkdir(name)))).toBe(true)
      yield* cluster.start(follower)
      yield* converged(cluster)
      expect(yield* names(cluster.store(follower))).toEqual(["a", "b", "c", "d", "e"])

      // The leader too: a new one is elected, and the old one comes back as a follower.
      yield* cluster.stop(leader)
      const next = yield* cluster.leader(cluster.ids.filter((id) => id !== leader))
      expect(Exit.isSuccess(yield* proposeVia(cluster, next, mkdir("f")))).toBe(true)
      yield* cluster.start(leader)
      yield* converged(cluster)
      for (const id of cluster.ids) {
        expect(yield* names(cluster.store(id))).toEqual(["a", "b", "c", "d", "e", "f"])
        expect(strictlyIncreasing(cluster.applied(id))).toBe(true)
      }
    }))

  it.scoped("a crash between WAL write and fsync loses only unacknowledged entries", () =>
    Effect.gen(function*() {
      const cluster = yield* makeRaftCluster({ replicator: noBatchWait })
      yield* cluster.startAll
      const leader = yield* cluster.leader()
      for (const name of ["a", "b"]) expect(Exit.isSuccess(yield* proposeVia(cluster, leader, mkdir(name)))).toBe(true)

      // The leader writes "c" to its log, but the fsync never completes: nothing is sent, nothing acknowledged.
      for (const id of cluster.ids) yield* cluster.wal(id).holdFsync
      const pending = yield* Effect.fork(cluster.replicator(leader).propose(mkdir("c")))
      yield* cluster.ticks(5)
      expect(yield* cluster.wal(leader).unsynced).toBeGreaterThan(0)
      expect(Option.isNone(yield* Fiber.poll(pending))).toBe(true)

      // Power loss everywhere: unsynced writes vanish (the leader's torn in half), and so do the in-memory stores.
      for (const id of cluster.ids) {
        yield* cluster.stop(id)
        yield* cluster.wal(id).crash({ tear: true })
        yield* cluster.wal(id).releaseFsync
        yield* cluster.replaceStore(id)
      }
      expect(failureOf(yield* Fiber.await(pending))?._tag).toBe("Unavailable")

      yield* cluster.startAll
      const next = yield* cluster.leader()
      const read = yield* readVia(cluster, next)
      expect(Exit.isSuccess(read) && read.value).toEqual(["a", "b"])
      expect(Exit.isSuccess(yield* proposeVia(cluster, next, mkdir("d")))).toBe(true)
      yield* converged(cluster)
      for (const id of cluster.ids) expect(yield* names(cluster.store(id))).toEqual(["a", "b", "d"])
    }))

  it.scoped("a write is acknowledged only once a majority has it durable", () =>
    Effect.gen(function*() {
      const cluster = yield* makeRaftCluster({ replicator: noBatchWait })
      yield* cluster.startAll
      const leader = yield* cluster.leader()
      const followers = cluster.ids.filter((id) => id !== leader)
      expect(Exit.isSuccess(yield* proposeVia(cluster, leader, mkdir("a")))).toBe(true)

      // The leader's own fsync works, the followers' never complete: no majority, no acknowledgement.
      for (const id of followers) yield* cluster.wal(id).holdFsync
      const pending = yield* Effect.fork(cluster.replicator(leader).propose(mkdir("b")))
      yield* cluster.ticks(20)
      expect(Option.isNone(yield* Fiber.poll(pending))).toBe(true)

      // The leader is gone for good and the followers lose power: what they elect must not miss an acknowledged write.
      yield* cluster.stop(leader)
      for (const id of followers) {
        yield* cluster.stop(id)
        yield* cluster.wal(id).crash()
        yield* cluster.wal(id).releaseFsync
        yield* cluster.replaceStore(id)
      }
      yield* Effect.forEach(followers, cluster.start, { discard: true })
      const next = yield* cluster.leader(followers)
      const read = yield* readVia(cluster, next)
      expect(Exit.isSuccess(read) && read.value).toEqual(["a"])
      expect(failureOf(yield* Fiber.await(pending))?._tag).toBe("Unavailable")
    }))

  it.scoped("a follower far behind catches up by a chunked snapshot", () =>
    Effect.gen(function*() {
      const { all, cluster, laggard, leader } = yield* laggardBehindCompaction

      // The leader's log was compacted behind a snapshot: entries the laggard needs are gone.
      const leaderLog = yield* cluster.wal(leader).durableRecords
      const head = leaderLog.slice(0, 2).map((record, i) => Effect.runSync(decodeReplicatorRecord(record, i))._tag)
      expect(head).toEqual(["HardState", "SnapshotMark"])

      const chunksBefore = (yield* cluster.network.stats).deliveredByTag["InstallSnapshot"] ?? 0
      yield* cluster.start(laggard)
      yield* converged(cluster)
      expect(yield* names(cluster.store(laggard))).toEqual(all)
      const chunks = ((yield* cluster.network.stats).deliveredByTag["InstallSnapshot"] ?? 0) - chunksBefore
      expect(chunks).toBeGreaterThan(1)
      // The snapshot replaced the entries it covers: the laggard applied only what came after it.
      const appliedByLaggard = cluster.applied(laggard)
      expect(appliedByLaggard.length).toBeLessThan((yield* cluster.status(leader)).appliedIndex)
      expect(strictlyIncreasing(appliedByLaggard)).toBe(true)

      // It is a full member again: it can take over.
      yield* cluster.stop(leader)
      const next = yield* cluster.leader(cluster.ids.filter((id) => id !== leader))
      expect(Exit.isSuccess(yield* proposeVia(cluster, next, mkdir("after")))).toBe(true)
    }))

  it.scoped("an installed snapshot is a file the log names: a restart with a lost store restores from it", () =>
    Effect.gen(function*() {
      const { all, cluster, laggard, leader } = yield* laggardBehindCompaction
      yield* cluster.start(laggard)
      yield* converged(cluster)

      // The leader encoded its snapshot into a file; the laggard received one, and its log starts
      // from a record naming it, not from the snapshot's bytes.
      const sent = cluster.snapshots(leader).files()
      expect(sent.length).toBe(1)
      const tags = (yield* cluster.wal(laggard).durableRecords).map((record, i) => Effect.runSync(decodeReplicatorRecord(record, i)))
      const head = tags[1]!
      expect(head._tag).toBe("SnapshotFile")
      expect(tags.map((record) => record._tag)).not.toContain("Snapshot")
      const received = cluster.snapshots(laggard).files()
      expect(received).toEqual([{ index: (head as { index: number }).index, term: (head as { term: number }).term, size: sent[0]!.size }])

      // Its store is lost (nothing was flushed since): the restart restores it from the file.
      yield* cluster.stop(laggard)
      yield* cluster.replaceStore(laggard)
      yield* cluster.start(laggard)
      yield* converged(cluster)
      expect(yield* names(cluster.store(laggard))).toEqual(all)
    }))

  it.scoped("a log compacted behind a mark restarts without a snapshot in it, and still brings a laggard up by one", () =>
    Effect.gen(function*() {
      const { all, cluster, laggard } = yield* laggardBehindCompaction

      // The two that are up restart from logs that hold no snapshot bytes, only marks.
      const up = cluster.ids.filter((id) => id !== laggard)
      for (const id of up) {
        const records = yield* cluster.wal(id).durableRecords
        const tags = records.map((record, i) => Effect.runSync(decodeReplicatorRecord(record, i))._tag)
        expect(tags[1]).toBe("SnapshotMark")
        expect(tags).not.toContain("Snapshot")
        yield* cluster.stop(id)
      }
      yield* Effect.forEach(up, cluster.start, { discard: true })
      const next = yield* cluster.leader(up)

      // The laggard needs entries compacted away everywhere: with nothing new to apply (so no
      // snapshot falls due), it still gets one, of a store.
      const chunksBefore = (yield* cluster.network.stats).deliveredByTag["InstallSnapshot"] ?? 0
      yield* cluster.start(laggard)
      yield* converged(cluster)
      expect(yield* names(cluster.store(laggard))).toEqual(all)
      expect(((yield* cluster.network.stats).deliveredByTag["InstallSnapshot"] ?? 0) - chunksBefore).toBeGreaterThan(1)
      expect(Exit.isSuccess(yield* proposeVia(cluster, next, mkdir("after-restart")))).toBe(true)
    }))

  it.scoped("a store found behind the mark its log was compacted at is refused at start, not silently replayed", () =>
    Effect.gen(function*() {
      const cluster = yield* makeRaftCluster({ replicator: { ...noBatchWait, snapshotThreshold: 5, snapshotCatchUpEntries: 0 } })
      yield* cluster.startAll
      const leader = yield* cluster.leader()
      for (let i = 0; i < 12; i++) expect(Exit.isSuccess(yield* proposeVia(cluster, leader, mkdir(`d${i}`)))).toBe(true)
      yield* cluster.ticks(2)
      const follower = cluster.ids.find((id) => id !== leader)!
      const compacted = Effect.map(cluster.wal(follower).durableRecords, (records) =>
        records.some((record, i) => Effect.runSync(decodeReplicatorRecord(record, i))._tag === "SnapshotMark"))
      yield* waitUntil(cluster, "the follower's log compacted", Effect.orDie(compacted))
      yield* cluster.stop(follower)
      yield* cluster.replaceStore(follower)
      const started = yield* Effect.exit(cluster.start(follower))
      const error = failureOf(started)
      expect(error?._tag).toBe("Corruption")
      expect(error?.message).toContain("behind the write-ahead log")
    }))

  it.scoped("nodes on real WALs and LevelDB stores restart from disk without re-applying", () =>
    Effect.gen(function*() {
      const disk = yield* tempDir("sandstore-raft-replicator-")
      const cluster = yield* makeRaftCluster({ disk, replicator: { ...noBatchWait, snapshotThreshold: 4, snapshotCatchUpEntries: 0 } })
      yield* cluster.startAll
      const leader = yield* cluster.leader()
      const all = ["a", "b", "c", "d", "e", "f"]
      for (const name of all) expect(Exit.isSuccess(yield* proposeVia(cluster, leader, mkdir(name)))).toBe(true)
      yield* converged(cluster)
      const before = cluster.ids.map((id) => cluster.applied(id).length)

      // Everyone stops; the cluster comes back from what is on disk (compacted logs and stores).
      for (const id of cluster.ids) yield* cluster.stop(id)
      yield* cluster.startAll
      const next = yield* cluster.leader()
      expect(Exit.isSuccess(yield* proposeVia(cluster, next, mkdir("g")))).toBe(true)
      yield* converged(cluster)
      for (const [i, id] of cluster.ids.entries()) {
        expect(yield* names(cluster.store(id))).toEqual([...all, "g"])
        // Across the restart, every index was applied once: what came after continues where it stopped.
        expect(cluster.applied(id).length).toBeGreaterThan(before[i]!)
        expect(strictlyIncreasing(cluster.applied(id))).toBe(true)
      }
    }))

  it.scoped("a single voter elects itself and commits on its own, across restarts", () =>
    Effect.gen(function*() {
      const cluster = yield* makeRaftCluster({ ids: ["solo"], replicator: noBatchWait })
      yield* cluster.startAll
      yield* cluster.leader()
      expect(Exit.isSuccess(yield* proposeVia(cluster, "solo", mkdir("alone")))).toBe(true)
      const read = yield* readVia(cluster, "solo")
      expect(Exit.isSuccess(read) && read.value).toEqual(["alone"])

      yield* cluster.stop("solo")
      yield* cluster.start("solo")
      yield* cluster.leader()
      expect(Exit.isSuccess(yield* proposeVia(cluster, "solo", mkdir("again")))).toBe(true)
      expect(yield* names(cluster.store("solo"))).toEqual(["again", "alone"])
      expect(strictlyIncreasing(cluster.applied("solo"))).toBe(true)
    }))

  it.scoped("closing a node fails its waiting proposals with Unavailable", () =>
    Effect.gen(function*() {
      const cluster = yield* makeRaftCluster({ replicator: { batchWaitMillis: 60_000 } })
      yield* cluster.startAll
      const leader = yield* cluster.leader()
      const waiting = yield* Effect.fork(cluster.replicator(leader).propose(mkdir("never")))
      yield* cluster.ticks(2)
      yield* cluster.stop(leader)
      expect(failureOf(yield* Fiber.await(waiting))?._tag).toBe("Unavailable")
    }))
})
