import { describe, expect, it } from "@effect/vitest"
import { Cause, Context, Effect, Exit, Fiber, Layer, Option, Scope, TestClock } from "effect"
import * as fs from "node:fs/promises"
import * as os from "node:os"
import * as path from "node:path"
import { MetadataServiceClassicLevel } from "../../layers/metadata/classicLevel.ts"
import { MetadataServiceMemory } from "../../layers/metadata/memory.ts"
import { SingleNodeReplicator, type SingleNodeReplicatorOptions } from "../../layers/replicator/singleNode.ts"
import { WriteAheadLogFile } from "../../layers/wal/segmentedFile.ts"
import type { MetadataCommand } from "../../src/domain/commands.ts"
import { asRequestWithin } from "../../src/lib/deadline.ts"
import type { Corruption, IoError } from "../../src/domain/errors.ts"
import { ROOT_INODE } from "../../src/domain/fs.ts"
import { encodeRecord } from "../../src/raft/walCodec.ts"
import { encodeReplicatorRecord } from "../../src/raft/walRecords.ts"
import { MetadataReplicator } from "../../src/services/MetadataReplicator.ts"
import { MetadataService, type StoreError } from "../../src/services/MetadataService.ts"
import { WriteAheadLog } from "../../src/services/WriteAheadLog.ts"
import { snapshotBytes } from "../support/snapshotBytes.ts"

const chunkSize = 1024 * 1024

const tempDir = Effect.acquireRelease(
  Effect.promise(() => fs.mkdtemp(path.join(os.tmpdir(), "sandstore-replicator-"))),
  (dir) => Effect.promise(() => fs.rm(dir, { recursive: true, force: true }))
)

const mkdir = (name: string): MetadataCommand => ({
  _tag: "Mkdir", parent: ROOT_INODE, name, mode: 0o755, uid: 0, gid: 0, now: 1_700_000_000_000
})

/** What reached the store and the log, across every session of a test. */
interface Counters {
  readonly applied: Array<number>
  restores: number
  appendBatches: number
}

const newCounters = (): Counters => ({ applied: [], restores: 0, appendBatches: 0 })

const countingMetadata = (store: Layer.Layer<MetadataService, StoreError>, counters: Counters) =>
  Layer.effect(
    MetadataService,
    Effect.map(MetadataService, (inner) =>
      MetadataService.of({
        ...inner,
        apply: (index, entry) => Effect.sync(() => counters.applied.push(index)).pipe(Effect.zipRight(inner.apply(index, entry))),
        applyAll: (entries) =>
          Effect.sync(() => counters.applied.push(...entries.map((item) => item.index))).pipe(Effect.zipRight(inner.applyAll(entries))),
        restore: (source) => Effect.sync(() => counters.restores++).pipe(Effect.zipRight(inner.restore(source)))
      }))
  ).pipe(Layer.provide(store))

const countingWal = (dir: string, counters: Counters) =>
  Layer.effect(
    WriteAheadLog,
    Effect.map(WriteAheadLog, (inner) =>
      WriteAheadLog.of({
        ...inner,
        append: (records) => Effect.sync(() => counters.appendBatches++).pipe(Effect.zipRight(inner.append(records)))
      }))
  ).pipe(Layer.provide(WriteAheadLogFile({ dir })))

interface Session {
  readonly walDir: string
  /** classic-level directory (the store survives restarts); absent: a fresh in-memory store each session */
  readonly storeDir?: string
  readonly counters: Counters
  readonly options?: Partial<SingleNodeReplicatorOptions>
}

const node = (session: Session): Layer.Layer<MetadataReplicator | MetadataService, IoError | Corruption> => {
  const store = session.storeDir === undefined
    ? MetadataServiceMemory({ chunkSize })
    : MetadataServiceClassicLevel({ path: session.storeDir, chunkSize })
  return SingleNodeReplicator({ nodeId: "n1", batchWaitMillis: 0, ...session.options }).pipe(
    Layer.provideMerge(Layer.merge(countingWal(session.walDir, session.counters), countingMetadata(store, session.counters)))
  )
}

const run = <A, E>(session: Session, body: Effect.Effect<A, E, MetadataReplicator | MetadataService>) =>
  body.pipe(Effect.provide(node(session)))

/** `body` on a fresh node whose batch wait is a minute, so a proposal stays queued until something else ends the wait. */
const withBatchHeld = <A, E>(body: Effect.Effect<A, E, MetadataReplicator | MetadataService>) =>
  Effect.flatMap(tempDir, (walDir) => run({ walDir, counters: newCounters(), options: { batchWaitMillis: 60_000 } }, body))

const propose = (command: MetadataCommand) => Effect.flatMap(MetadataReplicator, (r) => r.propose(command))

const names = Effect.flatMap(MetadataService, (m) => m.readdir(ROOT_INODE, null, 1000)).pipe(
  Effect.map((page) => page.entries.map((entry) => entry.name))
)

const status = Effect.flatMap(MetadataReplicator, (r) => r.status)

const failureOf = <A, E>(exit: Exit.Exit<A, E>): E | undefined =>
  Exit.isFailure(exit) ? Option.getOrUndefined(Cause.failureOption(exit.cause)) : undefined

const segmentFiles = (dir: string) =>
  Effect.promise(() => fs.readdir(dir)).pipe(Effect.map((all) => all.filter((n) => n.endsWith(".log")).sort()))

describe("SingleNodeReplicator", () => {
  it.scoped("propose returns the state machine's result, and its typed errors", () =>
    Effect.gen(function*() {
      const walDir = yield* tempDir
      yield* run(
        { walDir, counters: newCounters() },
        Effect.gen(function*() {
          const created = yield* propose(mkdir("docs"))
          expect(created).toMatchObject({ type: "directory", mode: 0o755 })
          const duplicate = yield* Effect.flip(propose(mkdir("docs")))
          expect(duplicate._tag).toBe("AlreadyExists")
          const invalid = yield* Effect.flip(propose({ ...mkdir("x"), parent: -3 } as unknown as MetadataCommand))
          expect(invalid._tag).toBe("InvalidArgument")
          expect(yield* status).toEqual({
            nodeId: "n1", role: "standalone", term: 1, leaderId: "n1", commitIndex: 2, appliedIndex: 2, lastIndex: 2, snapshotIndex: 0
          })
          expect(yield* names).toEqual(["docs"])
        })
      )
    }))

  it.effect("a batch waits for more proposals by Clock, and goes at once when full", () =>
    Effect.gen(function*() {
      const walDir = yield* tempDir
      const counters = newCounters()
      yield* run(
        { walDir, counters, options: { batchWaitMillis: 10, batchSize: 4 } },
        Effect.gen(function*() {
          const bootAppends = counters.appendBatches
          // One at a time: the batch holds the first while the clock stands still.
          const lingering: Array<Fiber.RuntimeFiber<unknown, unknown>> = []
          for (const name of ["a", "b", "c"]) {
            lingering.push(yield* Effect.fork(propose(mkdir(name))))
            yield* Effect.yieldNow().pipe(Effect.repeatN(20))
          }
          expect((yield* status).lastIndex).toBe(0)
          yield* TestClock.adjust("10 millis")
          yield* Fiber.joinAll(lingering)
          expect(counters.appendBatches - bootAppends).toBe(1)

          // Four proposals fill a batch: no clock needed.
          yield* Effect.all([1, 2, 3, 4].map((i) => propose(mkdir(`full-${i}`))), { concurrency: "unbounded" })
          expect(counters.appendBatches - bootAppends).toBe(2)
          expect((yield* status).appliedIndex).toBe(7)
        })
      )
    }).pipe(Effect.scoped))

  it.effect("a linearizable read sees proposals made before it", () =>
    withBatchHeld(Effect.gen(function*() {
      const replicator = yield* MetadataReplicator
      const pending = yield* Effect.fork(replicator.propose(mkdir("early")))
      yield* Effect.yieldNow().pipe(Effect.repeatN(20))
      expect(yield* names).toEqual([])
      // The read ends the batch wait: it must not see a state without "early".
      expect(yield* replicator.linearizable(names)).toEqual(["early"])
      yield* Fiber.join(pending)
    })).pipe(Effect.scoped))

  it.effect("a proposal still waiting at its request's deadline fails with Timeout", () =>
    withBatchHeld(Effect.gen(function*() {
      const replicator = yield* MetadataReplicator
      // Held by the batch wait: only the deadline can end it.
      const proposal = yield* Effect.fork(asRequestWithin(1000)(replicator.propose(mkdir("late"))))
      yield* Effect.yieldNow().pipe(Effect.repeatN(20))
      yield* TestClock.adjust("999 millis")
      expect(yield* Fiber.poll(proposal)).toEqual(Option.none())
      yield* TestClock.adjust("1 millis")
      expect(failureOf(yield* Fiber.await(proposal))?._tag).toBe("Timeout")
    })).pipe(Effect.scoped))

  it.effect("closing the replicator fails waiting proposals with Unavailable instead of leaving them hanging", () =>
    Effect.gen(function*() {
      const walDir = yield* tempDir
      const scope = yield* Scope.make()
      const context = yield* Layer.buildWithScope(
        node({ walDir, counters: newCounters(), options: { batchWaitMillis: 60_000 } }),
        scope
      )
      const waiting = yield* Effect.fork(propose(mkdir("never")).pipe(Effect.provide(context)))
      yield* Effect.yieldNow().pipe(Effect.repeatN(20))
      yield* Scope.close(scope, Exit.void)
      const error = yield* Effect.flip(Fiber.join(waiting))
      expect(error._tag).toBe("Unavailable")
    }).pipe(Effect.scoped))

  it.scoped("restart replays the log without applying any entry twice", () =>
    Effect.gen(function*() {
      const walDir = yield* tempDir
      const storeDir = yield* tempDir
      const counters = newCounters()
      const session = { walDir, storeDir, counters }
      yield* run(session, Effect.forEach(["a", "b", "c", "d", "e"], (n) => propose(mkdir(n)), { discard: true }))
      expect(counters.applied).toEqual([1, 2, 3, 4, 5])

      yield* run(
        session,
        Effect.gen(function*() {
          expect(counters.applied).toEqual([1, 2, 3, 4, 5])
          expect(yield* status).toMatchObject({ lastIndex: 5, appliedIndex: 5 })
          yield* propose(mkdir("f"))
        })
      )
      expect(counters.applied).toEqual([1, 2, 3, 4, 5, 6])

      // A store that lost everything (in memory) gets every entry replayed, once.
      const fresh = newCounters()
      const replayed = yield* run({ walDir, counters: fresh }, names)
      expect(replayed).toEqual(["a", "b", "c", "d", "e", "f"])
      expect(fresh.applied).toEqual([1, 2, 3, 4, 5, 6])
    }))

  it.scoped("a torn last record after a crash loses only that unacknowledged entry", () =>
    Effect.gen(function*() {
      const walDir = yield* tempDir
      const storeDir = yield* tempDir
      const counters = newCounters()
      yield* run({ walDir, storeDir, counters }, Effect.forEach(["a", "b"], (n) => propose(mkdir(n)), { discard: true }))

      // A crash mid-append of entry 3: part of its record reached the disk, none of it the store.
      const [last] = (yield* segmentFiles(walDir)).slice(-1)
      const record = encodeRecord(
        encodeReplicatorRecord({ _tag: "Entry", index: 3, term: 1, entry: { request: null, command: mkdir("lost") } })
      )
      yield* Effect.promise(() => fs.appendFile(path.join(walDir, last!), record.subarray(0, record.length - 5)))

      yield* run(
        { walDir, storeDir, counters },
        Effect.gen(function*() {
          expect(yield* status).toMatchObject({ lastIndex: 2, appliedIndex: 2 })
          expect(yield* names).toEqual(["a", "b"])
          yield* propose(mkdir("lost"))
          expect(yield* names).toEqual(["a", "b", "lost"])
        })
      )
      expect(counters.applied).toEqual([1, 2, 3])
      const replayed = yield* run({ walDir, counters: newCounters() }, names)
      expect(replayed).toEqual(["a", "b", "lost"])
    }))

  it.scoped("compaction keeps the log short: a mark once the store is durable; a store behind it is refused", () =>
    Effect.gen(function*() {
      const walDir = yield* tempDir
      const storeDir = yield* tempDir
      const counters = newCounters()
      const options = { snapshotThreshold: 4 }
      const all = Array.from({ length: 10 }, (_, i) => `dir-${String(i).padStart(2, "0")}`)
      yield* run({ walDir, storeDir, counters, options }, Effect.forEach(all, (n) => propose(mkdir(n)), { discard: true }))

      // Compactions at 4 and 8: the log holds the hard state, a mark at 8 (not a copy of the
      // store: compacting costs the same at any size), and entries 9 and 10.
      const recovered = yield* Effect.map(WriteAheadLog, (wal) => wal.recovered).pipe(
        Effect.provide(WriteAheadLogFile({ dir: walDir }))
      )
      expect(recovered.map((r) => r.type)).toEqual([2, 5, 1, 1])
      expect(yield* segmentFiles(walDir)).toHaveLength(1)

      // A store that survived: nothing restored, nothing re-applied.
      yield* run({ walDir, storeDir, counters, options }, Effect.void)
      expect(counters.restores).toBe(0)
      expect(counters.applied).toEqual(all.map((_, i) => i + 1))

      // A store that did not: refused, never a namespace silently missing entries 1 to 8.
      const lost = yield* Effect.exit(run({ walDir, counters: newCounters(), options }, names))
      expect(failureOf(lost)?._tag).toBe("Corruption")
      expect(failureOf(lost)?.message).toContain("behind the write-ahead log")
    }))

  it.scoped("a log headed by a snapshot inside it (as earlier versions wrote) restores it, then applies the tail", () =>
    Effect.gen(function*() {
      const walDir = yield* tempDir
      const source = Context.get(yield* Layer.build(MetadataServiceMemory({ chunkSize })), MetadataService)
      for (const [i, name] of ["a", "b", "c"].entries()) yield* source.apply(i + 1, { request: null, command: mkdir(name) })
      const { appliedIndex, data } = yield* snapshotBytes(source)
      expect(appliedIndex).toBe(3)
      yield* Effect.flatMap(WriteAheadLog, (wal) =>
        wal.rewrite([
          encodeReplicatorRecord({ _tag: "HardState", term: 1, votedFor: "n1", commit: 0 }),
          encodeReplicatorRecord({ _tag: "Snapshot", index: 3, term: 1, data }),
          encodeReplicatorRecord({ _tag: "Entry", index: 4, term: 1, entry: { request: null, command: mkdir("d") } })
        ])).pipe(Effect.provide(WriteAheadLogFile({ dir: walDir })))

      const counters = newCounters()
      yield* run({ walDir, counters }, Effect.gen(function*() {
        expect(yield* names).toEqual(["a", "b", "c", "d"])
        expect(yield* status).toMatchObject({ lastIndex: 4, appliedIndex: 4 })
      }))
      expect(counters.restores).toBe(1)
      expect(counters.applied).toEqual([4])
    }))

  it.scoped("a damaged snapshot is Corruption naming the file", () =>
    Effect.gen(function*() {
      const walDir = yield* tempDir
      const options = { snapshotThreshold: 3 }
      yield* run(
        { walDir, counters: newCounters(), options },
        Effect.forEach(["a", "b", "c"], (n) => propose(mkdir(n)), { discard: true })
      )
      const [name] = yield* segmentFiles(walDir)
      const file = path.join(walDir, name!)
      const bytes = yield* Effect.promise(() => fs.readFile(file))
      bytes[bytes.length - 3] = bytes[bytes.length - 3]! ^ 0x10
      yield* Effect.promise(() => fs.writeFile(file, bytes))
      const exit = yield* Effect.exit(run({ walDir, counters: newCounters(), options }, Effect.void))
      expect(failureOf(exit)).toMatchObject({ _tag: "Corruption", file })
    }))

  it.scoped("a store ahead of its log is Corruption, not silently reused indices", () =>
    Effect.gen(function*() {
      const walDir = yield* tempDir
      const storeDir = yield* tempDir
      yield* run({ walDir, storeDir, counters: newCounters() }, propose(mkdir("a")))
      const emptyWal = yield* tempDir
      const exit = yield* Effect.exit(run({ walDir: emptyWal, storeDir, counters: newCounters() }, Effect.void))
      expect(failureOf(exit)).toMatchObject({ _tag: "Corruption" })
    }))
})
