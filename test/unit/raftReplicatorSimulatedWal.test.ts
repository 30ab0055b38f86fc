import { describe, expect, it } from "@effect/vitest"
import { Context, Effect, Fiber, Layer, Option } from "effect"
import { makeSimulatedWal, type SimulatedWal } from "../../layers/wal/memory.ts"
import { type WalRecord, WriteAheadLog } from "../../src/services/WriteAheadLog.ts"

const record = (n: number): WalRecord => ({ type: 1, payload: Uint8Array.from({ length: 40 + n }, (_, i) => (i + n) & 0xff) })

/** Open the log: a node booting on this disk. */
const open = (disk: SimulatedWal) => Effect.map(Layer.build(disk.layer), (context) => Context.get(context, WriteAheadLog))

const yieldMany = Effect.yieldNow().pipe(Effect.repeatN(20))

describe("simulated WAL disk", () => {
  it.scoped("an append returns once durable, and a reopened log recovers it", () =>
    Effect.gen(function*() {
      const disk = yield* makeSimulatedWal()
      const wal = yield* open(disk)
      expect(wal.recovered).toEqual([])
      yield* wal.append([record(1), record(2)])
      yield* wal.append([record(3)])
      expect(yield* disk.fsyncs).toBe(2)
      yield* disk.crash()
      expect((yield* open(disk)).recovered).toEqual([record(1), record(2), record(3)])
    }))

  it.scoped("a crash loses written but unsynced records, and the crashed log fails from then on", () =>
    Effect.gen(function*() {
      const disk = yield* makeSimulatedWal()
      const wal = yield* open(disk)
      yield* wal.append([record(1)])
      yield* disk.holdFsync
      const waiting = yield* Effect.fork(wal.append([record(2)]))
      yield* yieldMany
      expect(Option.isNone(yield* Fiber.poll(waiting))).toBe(true)
      expect(yield* disk.unsynced).toBe(1)

      yield* disk.crash()
      yield* disk.releaseFsync
      const outcome = yield* Fiber.await(waiting)
      expect(outcome._tag).toBe("Failure")
      expect((yield* Effect.flip(wal.append([record(3)])))._tag).toBe("IoError")
      expect((yield* open(disk)).recovered).toEqual([record(1)])
    }))

  it.scoped("writes that reached the disk survive, and a torn one is cut off by recovery", () =>
    Effect.gen(function*() {
      const disk = yield* makeSimulatedWal()
      const wal = yield* open(disk)
      yield* wal.append([record(1)])
      yield* disk.holdFsync
      for (const n of [2, 3, 4]) yield* Effect.fork(wal.append([record(n)]))
      yield* yieldMany
      yield* disk.crash({ keep: 1, tear: true })
      yield* disk.releaseFsync
      const reopened = yield* open(disk)
      expect(reopened.recovered).toEqual([record(1), record(2)])
      // The torn bytes are gone: appends after recovery read back cleanly.
      yield* reopened.append([record(5)])
      expect(yield* disk.durableRecords).toEqual([record(1), record(2), record(5)])
    }))

  it.scoped("appends that wait for an fsync share the next one", () =>
    Effect.gen(function*() {
      const disk = yield* makeSimulatedWal()
      const wal = yield* open(disk)
      yield* disk.holdFsync
      const fibers = yield* Effect.forEach([1, 2, 3, 4, 5], (n) => Effect.fork(wal.append([record(n)])))
      yield* yieldMany
      yield* disk.releaseFsync
      yield* Fiber.joinAll(fibers)
      expect(yield* disk.fsyncs).toBe(1)
      expect(yield* disk.durableRecords).toEqual([1, 2, 3, 4, 5].map(record))
    }))

  it.scoped("a rewrite replaces the log atomically: before its fsync a crash keeps the old one", () =>
    Effect.gen(function*() {
      const disk = yield* makeSimulatedWal()
      const wal = yield* open(disk)
      yield* wal.append([record(1), record(2)])
      yield* disk.holdFsync
      yield* Effect.fork(wal.rewrite([record(9)]))
      yield* yieldMany
      yield* disk.crash()
      yield* disk.releaseFsync
      const reopened = yield* open(disk)
      expect(reopened.recovered).toEqual([record(1), record(2)])

      yield* reopened.rewrite([record(9)])
      yield* reopened.append([record(10)])
      expect(yield* disk.durableRecords).toEqual([record(9), record(10)])
    }))
})
