import { describe, expect, it } from "@effect/vitest"
import { Cause, Effect, Exit, Fiber, Metric, Option } from "effect"
import * as fs from "node:fs/promises"
import * as os from "node:os"
import * as path from "node:path"
import { walFsyncsOf, WriteAheadLogFile, type WriteAheadLogFileOptions } from "../../layers/wal/segmentedFile.ts"
import { encodeRecord } from "../../src/raft/walCodec.ts"
import { type WalRecord, WriteAheadLog, type WriteAheadLogShape } from "../../src/services/WriteAheadLog.ts"

const tempDir = Effect.acquireRelease(
  Effect.promise(() => fs.mkdtemp(path.join(os.tmpdir(), "sandstore-wal-"))),
  (dir) => Effect.promise(() => fs.rm(dir, { recursive: true, force: true }))
)

const withWal = <A, E>(options: WriteAheadLogFileOptions, use: (wal: WriteAheadLogShape) => Effect.Effect<A, E>) =>
  Effect.flatMap(WriteAheadLog, use).pipe(Effect.provide(WriteAheadLogFile(options)))

const record = (type: number, text: string): WalRecord => ({ type, payload: new TextEncoder().encode(text) })

const plain = (records: ReadonlyArray<WalRecord>) =>
  records.map((r) => `${r.type}:${new TextDecoder().decode(r.payload)}`)

const segmentFiles = (dir: string) =>
  Effect.promise(() => fs.readdir(dir)).pipe(Effect.map((names) => names.filter((n) => n.endsWith(".log")).sort()))

/** The typed error an exit failed with, if any. */
const failureOf = <A, E>(exit: Exit.Exit<A, E>): E | undefined =>
  Exit.isFailure(exit) ? Option.getOrUndefined(Cause.failureOption(exit.cause)) : undefined

const fsyncCount = (dir: string) => Metric.value(walFsyncsOf(dir)).pipe(Effect.map((state) => state.count))

describe("WriteAheadLogFile", () => {
  it.scoped("appends survive reopening, across segment rotation", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const written = Array.from({ length: 60 }, (_, i) => record(1 + (i % 3), `entry-${i}-${"x".repeat(i % 17)}`))
      yield* withWal({ dir, segmentBytes: 256 }, (wal) =>
        Effect.gen(function*() {
          expect(wal.recovered).toEqual([])
          for (let i = 0; i < written.length; i += 3) yield* wal.append(written.slice(i, i + 3))
        }))
      const files = yield* segmentFiles(dir)
      expect(files.length).toBeGreaterThan(3)
      expect(files[0]).toBe("wal-0000000000000001.log")
      const recovered = yield* withWal({ dir, segmentBytes: 256 }, (wal) =>
        wal.append([record(9, "after reopen")]).pipe(Effect.as(wal.recovered)))
      expect(plain(recovered)).toEqual(plain(written))
      const again = yield* withWal({ dir, segmentBytes: 256 }, (wal) => Effect.succeed(wal.recovered))
      expect(plain(again)).toEqual([...plain(written), "9:after reopen"])
    }))

  it.scoped("group commit: concurrent appends share fsyncs", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const before = yield* fsyncCount(dir)
      yield* withWal({ dir }, (wal) =>
        Effect.forEach(
          Array.from({ length: 200 }, (_, i) => i),
          (i) => wal.append([record(1, `concurrent-${i}`)]),
          { concurrency: "unbounded", discard: true }
        ))
      const fsyncs = (yield* fsyncCount(dir)) - before
      expect(fsyncs).toBeGreaterThan(0)
      expect(fsyncs).toBeLessThan(20)
      const recovered = yield* withWal({ dir }, (wal) => Effect.succeed(wal.recovered))
      expect(new Set(plain(recovered))).toEqual(new Set(Array.from({ length: 200 }, (_, i) => `1:concurrent-${i}`)))
    }))

  it.scoped("inline appends are durable in call order among queued ones, and one fsync each, across rotation", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const written = Array.from({ length: 40 }, (_, i) => record(1, `mixed-${i}-${"y".repeat(i % 11)}`))
      const before = yield* fsyncCount(dir)
      yield* withWal({ dir, segmentBytes: 200 }, (wal) =>
        Effect.forEach(written, (r, i) => wal.append([r], { inline: i % 3 !== 0 }), { discard: true }))
      expect(yield* fsyncCount(dir)).toBe(before + written.length)
      expect((yield* segmentFiles(dir)).length).toBeGreaterThan(2)
      const recovered = yield* withWal({ dir, segmentBytes: 200 }, (wal) => Effect.succeed(wal.recovered))
      expect(plain(recovered)).toEqual(plain(written))
    }))

  it.scoped("an inline append waits its turn behind appends already queued", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      yield* withWal({ dir }, (wal) =>
        Effect.gen(function*() {
          // Queued appends, all submitted before the inline one below starts.
          const queued = yield* Effect.forEach(Array.from({ length: 20 }, (_, i) => i), (i) =>
            Effect.fork(wal.append([record(1, `queued-${i}`)])))
          yield* Effect.yieldNow()
          yield* wal.append([record(2, "inline")], { inline: true })
          yield* Effect.forEach(queued, Fiber.join, { discard: true })
        }))
      const recovered = plain(yield* withWal({ dir }, (wal) => Effect.succeed(wal.recovered)))
      expect(recovered).toHaveLength(21)
      expect(recovered[20]).toBe("2:inline")
    }))

  it.scoped("an inline append on a closed log fails with IoError", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const closed = yield* withWal({ dir }, (wal) => Effect.succeed(wal))
      const exit = yield* Effect.exit(closed.append([record(1, "late")], { inline: true }))
      expect(failureOf(exit)?._tag).toBe("IoError")
    }))

  it.scoped("rewrite replaces the log; later appends follow it after reopening", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      yield* withWal({ dir, segmentBytes: 128 }, (wal) =>
        Effect.gen(function*() {
          for (let i = 0; i < 20; i++) yield* wal.append([record(1, `old-${i}`)])
          yield* wal.rewrite([record(2, "snapshot"), record(3, "hard state")])
          yield* wal.append([record(1, "new-1")])
        }))
      const files = yield* segmentFiles(dir)
      expect(files).toHaveLength(1)
      const recovered = yield* withWal({ dir, segmentBytes: 128 }, (wal) => Effect.succeed(wal.recovered))
      expect(plain(recovered)).toEqual(["2:snapshot", "3:hard state", "1:new-1"])
    }))

  it.scoped("a crash before a rewrite deleted the old segments recovers the rewritten log", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const first = path.join(dir, "wal-0000000000000001.log")
      yield* withWal({ dir }, (wal) => wal.append([record(1, "a"), record(1, "b")]))
      const oldBytes = yield* Effect.promise(() => fs.readFile(first))
      yield* withWal({ dir }, (wal) => wal.rewrite([record(2, "compacted")]))
      // The state a crash between rename and unlink leaves: old segment, new segment, a stray tmp.
      yield* Effect.promise(() => fs.writeFile(first, oldBytes))
      yield* Effect.promise(() => fs.writeFile(path.join(dir, "wal-0000000000000003.log.tmp"), "partial"))
      const recovered = yield* withWal({ dir }, (wal) => Effect.succeed(wal.recovered))
      expect(plain(recovered)).toEqual(["2:compacted"])
      expect(yield* Effect.promise(() => fs.readdir(dir))).toEqual(["wal-0000000000000002.log"])
    }))

  it.scoped("a torn tail is truncated on open and appends continue after it", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const file = path.join(dir, "wal-0000000000000001.log")
      yield* withWal({ dir }, (wal) => wal.append([record(1, "kept-1"), record(1, "kept-2")]))
      const validSize = (yield* Effect.promise(() => fs.stat(file))).size
      const torn = encodeRecord(record(1, "never acknowledged")).subarray(0, 13)
      yield* Effect.promise(() => fs.appendFile(file, torn))
      yield* withWal({ dir }, (wal) =>
        Effect.gen(function*() {
          expect(plain(wal.recovered)).toEqual(["1:kept-1", "1:kept-2"])
          expect((yield* Effect.promise(() => fs.stat(file))).size).toBe(validSize)
          yield* wal.append([record(1, "kept-3")])
        }))
      const recovered = yield* withWal({ dir }, (wal) => Effect.succeed(wal.recovered))
      expect(plain(recovered)).toEqual(["1:kept-1", "1:kept-2", "1:kept-3"])
    }))

  it.scoped("damage in an older segment fails opening with Corruption naming file and offset", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      yield* withWal({ dir, segmentBytes: 64 }, (wal) =>
        Effect.forEach([0, 1, 2, 3, 4, 5], (i) => wal.append([record(1, `entry-number-${i}-padding-padding`)]), {
          discard: true
        }))
      const first = path.join(dir, "wal-0000000000000001.log")
      const bytes = yield* Effect.promise(() => fs.readFile(first))
      bytes[bytes.length - 1] = bytes[bytes.length - 1]! ^ 0x40
      yield* Effect.promise(() => fs.writeFile(first, bytes))
      const exit = yield* Effect.exit(withWal({ dir, segmentBytes: 64 }, () => Effect.void))
      expect(failureOf(exit)).toMatchObject({ _tag: "Corruption", file: first, offset: 0 })
    }))

  it.scoped("damage in a compacted segment's content is Corruption, not a torn tail", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      yield* withWal({ dir }, (wal) => wal.rewrite([record(3, "snapshot bytes that must not be lost")]))
      const [name] = yield* segmentFiles(dir)
      const file = path.join(dir, name!)
      const bytes = yield* Effect.promise(() => fs.readFile(file))
      bytes[bytes.length - 2] = bytes[bytes.length - 2]! ^ 0x01
      yield* Effect.promise(() => fs.writeFile(file, bytes))
      const exit = yield* Effect.exit(withWal({ dir }, () => Effect.void))
      expect(failureOf(exit)).toMatchObject({ _tag: "Corruption", file })
    }))

  it.scoped("a missing segment in the middle is Corruption", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      yield* withWal({ dir, segmentBytes: 32 }, (wal) =>
        Effect.forEach([0, 1, 2, 3], (i) => wal.append([record(1, `entry-number-${i}-padding-padding`)]), {
          discard: true
        }))
      const files = yield* segmentFiles(dir)
      expect(files.length).toBe(4)
      yield* Effect.promise(() => fs.unlink(path.join(dir, files[1]!)))
      const exit = yield* Effect.exit(withWal({ dir, segmentBytes: 32 }, () => Effect.void))
      expect(failureOf(exit)).toMatchObject({ _tag: "Corruption", file: path.join(dir, files[2]!) })
    }))
})
