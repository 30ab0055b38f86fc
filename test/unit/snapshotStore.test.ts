/** The SnapshotStore contract, run against the file layer and the simulated disk. */
import { describe, expect, it } from "@effect/vitest"
import { Cause, Context, Effect, Exit, Layer, Option, type Scope } from "effect"
import * as fs from "node:fs/promises"
import * as os from "node:os"
import * as path from "node:path"
import { SnapshotStoreFiles } from "../../layers/snapshots/files.ts"
import { makeSimulatedSnapshots } from "../../layers/snapshots/memory.ts"
import type { IoError } from "../../src/domain/errors.ts"
import { type SnapshotFile, SnapshotStore, type SnapshotStoreShape } from "../../src/services/SnapshotStore.ts"
import { expectBytes, patternBytes } from "../support/bytes.ts"

const tempDir = Effect.acquireRelease(
  Effect.promise(() => fs.mkdtemp(path.join(os.tmpdir(), "sandstore-snapshots-"))),
  (dir) => Effect.promise(() => fs.rm(dir, { recursive: true, force: true }))
)

/** A disk: `layer` opens a store on it, the first time a new node, later a restarted one. */
interface Disk {
  readonly layer: Layer.Layer<SnapshotStore, IoError>
}

const implementations: ReadonlyArray<{ readonly name: string; readonly disk: Effect.Effect<Disk, never, Scope.Scope> }> = [
  { name: "SnapshotStoreFiles", disk: Effect.map(tempDir, (dir) => ({ layer: SnapshotStoreFiles({ dir }) })) },
  { name: "SimulatedSnapshots", disk: makeSimulatedSnapshots }
]

/** Use a store opened on `disk`, closing it afterwards. */
const withStore = <A, E>(disk: Disk, use: (store: SnapshotStoreShape) => Effect.Effect<A, E>) =>
  Effect.flatMap(SnapshotStore, use).pipe(Effect.provide(disk.layer))

/** The typed error an exit failed with, if any. */
const failureOf = <A, E>(exit: Exit.Exit<A, E>): E | undefined =>
  Exit.isFailure(exit) ? Option.getOrUndefined(Cause.failureOption(exit.cause)) : undefined

const expectIoError = <A, E extends { readonly _tag: string }>(effect: Effect.Effect<A, E>) =>
  Effect.map(Effect.exit(effect), (exit) => {
    const error = failureOf(exit)
    expect(error?._tag).toBe("IoError")
    return error as unknown as IoError
  })

/** Commit `bytes` at (`index`, `term`) in pieces of `piece` bytes. */
const commitBytes = (store: SnapshotStoreShape, index: number, term: number, bytes: Uint8Array, piece = 1000) =>
  Effect.gen(function*() {
    const writer = yield* store.create
    for (let at = 0; at < bytes.length; at += piece) yield* writer.write(bytes.subarray(at, at + piece))
    return yield* writer.commit(index, term)
  })

/** The whole snapshot, read `chunk` bytes at a time. */
const readAll = (store: SnapshotStoreShape, snapshot: SnapshotFile, chunk: number) =>
  Effect.gen(function*() {
    const parts: Array<Uint8Array> = []
    for (let offset = 0; offset < snapshot.size; offset += chunk) {
      const part = yield* store.read(snapshot, offset, chunk)
      expect(part.length).toBe(Math.min(chunk, snapshot.size - offset))
      parts.push(part)
    }
    return Buffer.concat(parts)
  })

const DATA = patternBytes(100_003, 7)

for (const impl of implementations) {
  describe(impl.name, () => {
    it.scoped("writes in pieces (reusing one buffer), commits, reads ranges up to the short last one", () =>
      Effect.gen(function*() {
        const disk = yield* impl.disk
        yield* withStore(disk, (store) =>
          Effect.gen(function*() {
            expect(store.recovered).toEqual([])
            const writer = yield* store.create
            // One buffer for every piece: the store must not keep it past a write's return.
            const buffer = new Uint8Array(4096)
            const sizes = [1, 4096, 17, 0, 3000]
            let at = 0
            for (let i = 0; at < DATA.length; i++) {
              const n = Math.min(sizes[i % sizes.length]!, DATA.length - at)
              buffer.set(DATA.subarray(at, at + n))
              yield* writer.write(buffer.subarray(0, n))
              buffer.fill(0xee)
              at += n
            }
            const snapshot = yield* writer.commit(12, 3)
            expect(snapshot).toEqual({ index: 12, term: 3, size: DATA.length })

            expectBytes(yield* readAll(store, snapshot, 16 * 1024), DATA)
            expectBytes(yield* store.read(snapshot, 5, 10), DATA.subarray(5, 15))
            expectBytes(yield* store.read(snapshot, DATA.length - 3, 1 << 20), DATA.subarray(DATA.length - 3))
            expect((yield* store.read(snapshot, DATA.length, 10)).length).toBe(0)
            expect((yield* store.read(snapshot, 0, 0)).length).toBe(0)
          }))
      }))

    it.scoped("an empty snapshot commits and reads back empty", () =>
      Effect.gen(function*() {
        const disk = yield* impl.disk
        const snapshot = yield* withStore(disk, (store) =>
          Effect.gen(function*() {
            const writer = yield* store.create
            const committed = yield* writer.commit(1, 1)
            expect((yield* store.read(committed, 0, 100)).length).toBe(0)
            return committed
          }))
        expect(snapshot).toEqual({ index: 1, term: 1, size: 0 })
        expect(yield* withStore(disk, (store) => Effect.succeed(store.recovered))).toEqual([snapshot])
      }))

    it.scoped("reopening recovers the committed snapshots by index, not aborted or unfinished ones", () =>
      Effect.gen(function*() {
        const disk = yield* impl.disk
        const [late, early] = yield* withStore(disk, (store) =>
          Effect.gen(function*() {
            const late = yield* commitBytes(store, 0x20, 2, DATA.subarray(0, 5000))
            const aborted = yield* store.create
            yield* aborted.write(DATA.subarray(0, 100))
            yield* aborted.abort
            const early = yield* commitBytes(store, 0x9, 1, DATA.subarray(100, 2100))
            // Left open when the store closes: a node crashing mid-snapshot.
            const unfinished = yield* store.create
            yield* unfinished.write(DATA.subarray(0, 700))
            return [late, early] as const
          }))
        yield* withStore(disk, (store) =>
          Effect.gen(function*() {
            expect(store.recovered).toEqual([early, late])
            expectBytes(yield* store.read(early, 0, early.size), DATA.subarray(100, 2100))
            expectBytes(yield* readAll(store, late, 999), DATA.subarray(0, 5000))
          }))
      }))

    it.scoped("a commit replaces the snapshot already at its position", () =>
      Effect.gen(function*() {
        const disk = yield* impl.disk
        const newer = patternBytes(3333, 99)
        const replaced = yield* withStore(disk, (store) =>
          Effect.gen(function*() {
            const first = yield* commitBytes(store, 7, 3, DATA.subarray(0, 5000))
            // Read first, so the file layer has it open when it is replaced.
            expectBytes(yield* store.read(first, 0, 10), DATA.subarray(0, 10))
            const second = yield* commitBytes(store, 7, 3, newer)
            expect(second).toEqual({ index: 7, term: 3, size: newer.length })
            expectBytes(yield* store.read(second, 0, second.size), newer)
            // The replaced one is gone: a read expecting its size fails.
            yield* expectIoError(store.read(first, 0, 10))
            return second
          }))
        yield* withStore(disk, (store) =>
          Effect.gen(function*() {
            expect(store.recovered).toEqual([replaced])
            expectBytes(yield* store.read(replaced, 0, replaced.size), newer)
          }))
      }))

    it.scoped("retain deletes every other snapshot; reading a deleted one is an IoError", () =>
      Effect.gen(function*() {
        const disk = yield* impl.disk
        const kept = yield* withStore(disk, (store) =>
          Effect.gen(function*() {
            const a = yield* commitBytes(store, 10, 1, DATA.subarray(0, 3000))
            const b = yield* commitBytes(store, 20, 1, DATA.subarray(0, 4000))
            const c = yield* commitBytes(store, 30, 2, DATA.subarray(0, 5000))
            yield* store.read(c, 0, 100)
            yield* expectIoError(store.retain([b, { index: -1, term: 0, size: 0 }]))
            expectBytes(yield* store.read(a, 0, 10), DATA.subarray(0, 10))
            yield* store.retain([b])
            yield* expectIoError(store.read(a, 0, 10))
            yield* expectIoError(store.read(c, 100, 100))
            expectBytes(yield* store.read(b, 0, b.size), DATA.subarray(0, 4000))
            yield* store.retain([b])
            return b
          }))
        expect(yield* withStore(disk, (store) => Effect.succeed(store.recovered))).toEqual([kept])
        yield* withStore(disk, (store) => store.retain([]))
        expect(yield* withStore(disk, (store) => Effect.succeed(store.recovered))).toEqual([])
      }))

    it.scoped("abort leaves nothing, twice is harmless, and after commit it does nothing", () =>
      Effect.gen(function*() {
        const disk = yield* impl.disk
        const committed = yield* withStore(disk, (store) =>
          Effect.gen(function*() {
            const writer = yield* store.create
            yield* writer.write(DATA.subarray(0, 500))
            yield* writer.abort
            yield* writer.abort
            yield* expectIoError(writer.write(DATA.subarray(0, 10)))
            yield* expectIoError(writer.commit(5, 1))
            yield* expectIoError(store.read({ index: 5, term: 1, size: 500 }, 0, 10))

            const other = yield* store.create
            yield* other.write(DATA.subarray(0, 50))
            const snapshot = yield* other.commit(6, 1)
            yield* other.abort
            yield* expectIoError(other.commit(7, 1))
            expectBytes(yield* store.read(snapshot, 0, 50), DATA.subarray(0, 50))
            return snapshot
          }))
        expect(yield* withStore(disk, (store) => Effect.succeed(store.recovered))).toEqual([committed])
      }))

    it.scoped("bad arguments are IoErrors, not crashes", () =>
      Effect.gen(function*() {
        const disk = yield* impl.disk
        yield* withStore(disk, (store) =>
          Effect.gen(function*() {
            const snapshot = yield* commitBytes(store, 3, 1, DATA.subarray(0, 100))
            for (const [offset, length] of [[-1, 10], [0, -1], [1.5, 10], [0, 2.5], [NaN, 1], [0, Infinity], [101, 1]]) {
              yield* expectIoError(store.read(snapshot, offset!, length!))
            }
            yield* expectIoError(store.read({ index: 3, term: 1, size: -5 }, 0, 1))
            // Shorter than the snapshot claims.
            const error = yield* expectIoError(store.read({ ...snapshot, size: 200 }, 150, 10))
            expect(error.message.length).toBeGreaterThan(0)
            yield* expectIoError(store.read({ index: 4, term: 1, size: 100 }, 0, 10))

            const writer = yield* store.create
            yield* writer.write(DATA.subarray(0, 10))
            yield* expectIoError(writer.commit(-1, 1))
            yield* expectIoError(writer.commit(1, 0.5))
            // Still open after the refused commit.
            expect(yield* writer.commit(8, 2)).toEqual({ index: 8, term: 2, size: 10 })
            expectBytes(yield* store.read(snapshot, 0, 100), DATA.subarray(0, 100))
          }))
      }))

    it.scoped("a closed store refuses work; its unfinished writers were aborted", () =>
      Effect.gen(function*() {
        const disk = yield* impl.disk
        const [store, writer, snapshot] = yield* withStore(disk, (store) =>
          Effect.gen(function*() {
            const snapshot = yield* commitBytes(store, 2, 1, DATA.subarray(0, 100))
            const writer = yield* store.create
            yield* writer.write(DATA.subarray(0, 10))
            return [store, writer, snapshot] as const
          }))
        yield* expectIoError(writer.commit(3, 1))
        yield* writer.abort
        yield* expectIoError(store.create)
        yield* expectIoError(store.read(snapshot, 0, 10))
        expect(yield* withStore(disk, (reopened) => Effect.succeed(reopened.recovered))).toEqual([snapshot])
      }))
  })
}

describe("SnapshotStoreFiles on disk", () => {
  const list = (dir: string) => Effect.promise(() => fs.readdir(dir)).pipe(Effect.map((names) => [...names].sort()))

  it.scoped("names committed files by index and term; leftover .tmp files go, unrelated files stay", () =>
    Effect.gen(function*() {
      const dir = path.join(yield* tempDir, "nested", "snapshots")
      const disk = { layer: SnapshotStoreFiles({ dir }) }
      yield* withStore(disk, (store) =>
        Effect.gen(function*() {
          yield* commitBytes(store, 0x10, 2, DATA.subarray(0, 10))
          yield* commitBytes(store, 9, 1, DATA.subarray(0, 20))
          const unfinished = yield* store.create
          yield* unfinished.write(DATA.subarray(0, 5))
          expect((yield* list(dir)).filter((name) => name.endsWith(".tmp"))).toHaveLength(1)
        }))
      expect(yield* list(dir)).toEqual([
        "snap-0000000000000009-0000000000000001.snap",
        "snap-0000000000000010-0000000000000002.snap"
      ])
      // A crash mid-snapshot, and files that are not snapshots.
      yield* Effect.promise(() => fs.writeFile(path.join(dir, "snap-77.tmp"), "partial"))
      yield* Effect.promise(() => fs.writeFile(path.join(dir, "notes.txt"), "hello"))
      yield* Effect.promise(() => fs.writeFile(path.join(dir, "snap-zz-0000000000000001.snap"), "x"))
      yield* Effect.promise(() => fs.mkdir(path.join(dir, "snap-0000000000000001-0000000000000001.snap")))
      const recovered = yield* withStore(disk, (store) => Effect.succeed(store.recovered))
      expect(recovered).toEqual([{ index: 9, term: 1, size: 20 }, { index: 16, term: 2, size: 10 }])
      expect(yield* list(dir)).toEqual([
        "notes.txt",
        "snap-0000000000000001-0000000000000001.snap",
        "snap-0000000000000009-0000000000000001.snap",
        "snap-0000000000000010-0000000000000002.snap",
        "snap-zz-0000000000000001.snap"
      ])
      // retain touches only snapshots.
      yield* withStore(disk, (store) => store.retain([]))
      expect(yield* list(dir)).toEqual([
        "notes.txt",
        "snap-0000000000000001-0000000000000001.snap",
        "snap-zz-0000000000000001.snap"
      ])
    }))

  it.scoped("a truncated file is an IoError naming it, whether just opened or already open", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const disk = { layer: SnapshotStoreFiles({ dir }) }
      const snapshot = yield* withStore(disk, (store) => commitBytes(store, 4, 2, DATA, 8192))
      const file = path.join(dir, "snap-0000000000000004-0000000000000002.snap")
      yield* withStore(disk, (store) =>
        Effect.gen(function*() {
          // Open (and cached) before the truncation: the read runs into the end.
          expectBytes(yield* store.read(snapshot, 0, 1000), DATA.subarray(0, 1000))
          yield* Effect.promise(() => fs.truncate(file, 50_000))
          expectBytes(yield* store.read(snapshot, 1000, 1000), DATA.subarray(1000, 2000))
          const error = yield* expectIoError(store.read(snapshot, 49_000, 2000))
          expect(error.message).toContain(file)
          expect(error.path).toBe(file)
        }))
      yield* withStore(disk, (store) =>
        Effect.gen(function*() {
          expect(store.recovered).toEqual([{ index: 4, term: 2, size: 50_000 }])
          const error = yield* expectIoError(store.read(snapshot, 0, 10))
          expect(error.message).toContain(file)
        }))
    }))

  it.scoped("reads alternating between two snapshots, and concurrent reads, all return the right bytes", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const other = patternBytes(DATA.length, 3)
      yield* withStore({ layer: SnapshotStoreFiles({ dir }) }, (store) =>
        Effect.gen(function*() {
          const a = yield* commitBytes(store, 1, 1, DATA, 65536)
          const b = yield* commitBytes(store, 2, 1, other, 65536)
          const [readA, readB] = yield* Effect.all([readAll(store, a, 7000), readAll(store, b, 9000)], {
            concurrency: "unbounded"
          })
          expectBytes(readA, DATA)
          expectBytes(readB, other)
          for (let offset = 0; offset < DATA.length; offset += 20_000) {
            expectBytes(yield* store.read(a, offset, 100), DATA.subarray(offset, offset + 100))
            expectBytes(yield* store.read(b, offset, 100), other.subarray(offset, offset + 100))
          }
        }))
    }))
})

describe("SimulatedSnapshots disk", () => {
  it.effect("files() shows committed snapshots; reopening cuts off the store opened before", () =>
    Effect.gen(function*() {
      const simulated = yield* makeSimulatedSnapshots
      yield* Effect.scoped(Effect.gen(function*() {
        const before = Context.get(yield* Layer.build(simulated.layer), SnapshotStore)
        const snapshot = yield* commitBytes(before, 5, 1, DATA.subarray(0, 300))
        const unfinished = yield* before.create
        yield* unfinished.write(DATA.subarray(0, 10))
        expect(simulated.files()).toEqual([snapshot])
        // A restart while the old incarnation still runs: it can no longer touch the disk.
        yield* Effect.scoped(Effect.gen(function*() {
          const after = Context.get(yield* Layer.build(simulated.layer), SnapshotStore)
          expect(after.recovered).toEqual([snapshot])
          yield* expectIoError(unfinished.commit(6, 1))
          yield* expectIoError(before.read(snapshot, 0, 10))
          yield* expectIoError(before.retain([]))
          expectBytes(yield* after.read(snapshot, 0, 300), DATA.subarray(0, 300))
        }))
        expect(simulated.files()).toEqual([snapshot])
      }))
    }))
})
