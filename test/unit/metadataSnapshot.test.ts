/**
 * Streamed metadata snapshots (layers/metadata/snapshotFormat.ts, namespace.ts): a snapshot is
 * handed out a page at a time and restored from a source read by ranges, on all three stores.
 * A damaged snapshot changes nothing; a restore cut short leaves a store that reopens empty.
 */
import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, type Scope } from "effect"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import type { LogEntry, MetadataCommand } from "../../src/domain/commands.ts"
import { IoError } from "../../src/domain/errors.ts"
import { ROOT_INODE } from "../../src/domain/fs.ts"
import { crc32c } from "../../src/lib/crc32c.ts"
import type { SessionId } from "../../src/domain/session.ts"
import { bytesSource, type MetadataServiceShape, type SnapshotSource } from "../../src/services/MetadataService.ts"
import { openClassicLevel } from "../../layers/metadata/classicLevel.ts"
import * as Keys from "../../layers/metadata/keys.ts"
import { openMemoryLevel } from "../../layers/metadata/memory.ts"
import { makeNamespace } from "../../layers/metadata/namespace.ts"
import { makeStore, type Store } from "../../layers/metadata/store.ts"
import { makeTreeStore } from "../../layers/metadata/treeStore.ts"
import { snapshotBytes } from "../support/snapshotBytes.ts"

const CHUNK = 64
const T = 1_700_000_000_000
const SESSION = "c3".repeat(16) as SessionId

const tempDir = Effect.acquireRelease(
  Effect.sync(() => mkdtempSync(join(tmpdir(), "sandstore-metadata-snapshot-"))),
  (dir) => Effect.sync(() => rmSync(dir, { recursive: true, force: true }))
)

interface Opened {
  readonly md: MetadataServiceShape
  readonly store: Store
}

const over = (store: Store) => Effect.map(makeNamespace(store, { chunkSize: CHUNK }), (md): Opened => ({ md, store }))

const backends: ReadonlyArray<readonly [string, Effect.Effect<Opened, unknown, Scope.Scope>]> = [
  ["memory-level", Effect.flatMap(openMemoryLevel, (db) => over(makeStore(db, { sync: false })))],
  ["tree store", Effect.suspend(() => over(makeTreeStore()))],
  ["classic-level", Effect.flatMap(tempDir, (dir) => Effect.flatMap(openClassicLevel(join(dir, "db")), (db) => over(makeStore(db, { sync: false }))))]
]

const create = (parent: number, name: string): MetadataCommand =>
  ({ _tag: "Create", parent, name, mode: 0o644, uid: 1, gid: 1, exclusive: true, now: T })
const mkdir = (parent: number, name: string): MetadataCommand =>
  ({ _tag: "Mkdir", parent, name, mode: 0o755, uid: 1, gid: 1, now: T })
const write = (inode: number, versionId: string): MetadataCommand => ({
  _tag: "CommitWrite", inode, txId: versionId, end: 10, now: T,
  updates: [{ expectedVersionId: null, expectedLength: 0, chunk: { index: 0, versionId, storedLength: 10, length: 10, checksum: 1, nodes: ["n"] } }]
})

/** Applies `commands` after the applied index, in one batch. */
const run = (md: MetadataServiceShape, commands: ReadonlyArray<MetadataCommand>) =>
  Effect.gen(function*() {
    const from = (yield* md.appliedIndex) + 1
    yield* md.applyAll(commands.map((command, i) => ({ index: from + i, entry: { request: null, command } as LogEntry })))
  })

/** A little of everything: directories, files, a chunk map, a session with a recorded reply. */
const varied = (md: MetadataServiceShape) =>
  Effect.gen(function*() {
    yield* md.apply(1, { request: null, command: { _tag: "OpenSession", session: SESSION, create: true, now: T } })
    yield* md.apply(2, { request: { session: SESSION, seq: 1, ackedBelow: 0, digest: 3 }, command: mkdir(ROOT_INODE, "dir") })
    yield* run(md, [
      ...Array.from({ length: 20 }, (_, i) => create(2, `file-${i}`)),
      write(3, "v1"), write(4, "v2")
    ])
  })

/** Enough files for several snapshot pages and several restore batches (two keys each). */
const many = (md: MetadataServiceShape, prefix: string, files: number) =>
  run(md, Array.from({ length: files }, (_, i) => create(ROOT_INODE, `${prefix}-${i}`)))

/** A source that hands out at most `most` bytes per read, each a fresh copy (kept in `handed`). */
const stingySource = (data: Uint8Array, most: number, handed: Array<Buffer> = []): SnapshotSource => ({
  size: data.byteLength,
  read: (offset, length) =>
    Effect.sync(() => {
      const bytes = Buffer.from(data.subarray(offset, offset + Math.min(length, most)))
      handed.push(bytes)
      return bytes
    })
})

const bytesOf = (md: MetadataServiceShape) => Effect.map(snapshotBytes(md), (s) => Buffer.from(s.data))

for (const [name, open] of backends) {
  describe(`streamed snapshots on ${name}`, () => {
    it.scoped("a snapshot read back 7 bytes at a time restores to identical snapshot bytes", () =>
      Effect.gen(function*() {
        const { md: source } = yield* open
        yield* varied(source)
        const snapshot = yield* snapshotBytes(source)
        expect(snapshot.appliedIndex).toBe(yield* source.appliedIndex)

        const { md: target } = yield* open
        yield* run(target, [mkdir(ROOT_INODE, "mine"), create(ROOT_INODE, "also-mine")])
        yield* target.restore(stingySource(snapshot.data, 7))
        expect((yield* bytesOf(target)).equals(Buffer.from(snapshot.data))).toBe(true)
        expect(yield* target.appliedIndex).toBe(snapshot.appliedIndex)
        expect(yield* target.fsstat).toEqual(yield* source.fsstat)
        expect((yield* target.readdir(2, null, 100)).entries.length).toBe(20)
        yield* Effect.flip(target.lookup(ROOT_INODE, "mine"))
      }))

    it.scoped("a snapshot with any one byte flipped is refused as Corruption and changes nothing", () =>
      Effect.gen(function*() {
        const { md: source } = yield* open
        yield* varied(source)
        const good = Buffer.from((yield* snapshotBytes(source)).data)
        const { md: target } = yield* open
        yield* run(target, [mkdir(ROOT_INODE, "mine")])
        const before = yield* bytesOf(target)
        for (let at = 0; at < good.length; at++) {
          const damaged = Buffer.from(good)
          damaged[at] = damaged[at]! ^ 0x10
          // Tiny ranges on a few positions (header, middle, checksum), the whole at once on the rest.
          const tiny = at < 8 || at === good.length >> 1 || at >= good.length - 4
          const error = yield* Effect.flip(target.restore(tiny ? stingySource(damaged, 7) : bytesSource(damaged)))
          expect(error._tag).toBe("Corruption")
          expect(error.message).toMatch(/^metadata snapshot: /)
        }
        expect((yield* bytesOf(target)).equals(before)).toBe(true)
        expect(yield* target.appliedIndex).toBe(1)
      }))

    it.scoped("a store larger than a page is handed out in several writes adding up to the size returned", () =>
      Effect.gen(function*() {
        const { md: source } = yield* open
        yield* many(source, "f", 3000)
        const writes: Array<number> = []
        const result = yield* source.snapshot((bytes) => Effect.sync(() => void writes.push(bytes.byteLength)))
        // The header, at least two pages of entries, the trailer.
        expect(writes.length).toBeGreaterThanOrEqual(4)
        expect(writes.reduce((a, b) => a + b, 0)).toBe(result.size)
        expect(result.appliedIndex).toBe(3000)

        // Restored over a store as large, in many batches each way.
        const data = (yield* snapshotBytes(source)).data
        expect(data.byteLength).toBe(result.size)
        const { md: target } = yield* open
        yield* many(target, "g", 2500)
        const handed: Array<Buffer> = []
        yield* target.restore(stingySource(data, Number.MAX_SAFE_INTEGER, handed))
        // The store keeps copies: scribbling over every byte the source handed out changes nothing.
        for (const bytes of handed) bytes.fill(0xee)
        expect((yield* bytesOf(target)).equals(Buffer.from(data))).toBe(true)
      }))

    it.scoped("a snapshot taken during a restore sees the store before or after it, whole", () =>
      Effect.gen(function*() {
        const { md: source } = yield* open
        yield* many(source, "f", 3000)
        const data = (yield* snapshotBytes(source)).data
        const { md: target } = yield* open
        yield* many(target, "g", 2500)
        // The snapshot starts when the restore begins its second pass: the store is changing then.
        const changing = yield* Deferred.make<void>()
        let passes = 0
        const signalling: SnapshotSource = {
          size: data.byteLength,
          read: (offset, length) =>
            Effect.zipRight(
              offset === 0 && ++passes === 2 ? Deferred.succeed(changing, undefined) : Effect.void,
              Effect.succeed(data.subarray(offset, offset + Math.min(length, 16 * 1024)))
            )
        }
        const [, during] = yield* Effect.all([
          target.restore(signalling),
          Effect.zipRight(Deferred.await(changing), bytesOf(target))
        ], { concurrency: "unbounded" })
        expect(during.equals(Buffer.from(data))).toBe(true)
      }))

    it.scoped("a restore failing midway leaves no meta record until it is done again", () =>
      Effect.gen(function*() {
        const { md: source } = yield* open
        yield* many(source, "f", 3000)
        const data = (yield* snapshotBytes(source)).data
        const { md: target } = yield* open
        yield* many(target, "g", 100)
        const error = yield* Effect.flip(target.restore(failingSecondPass(data)))
        expect(error._tag).toBe("IoError")
        expect((yield* Effect.flip(target.appliedIndex))._tag).toBe("Corruption")
        expect((yield* Effect.flip(snapshotBytes(target)))._tag).toBe("Corruption")
        yield* target.restore(bytesSource(data))
        expect((yield* bytesOf(target)).equals(Buffer.from(data))).toBe(true)
      }))
  })
}

/**
 * A source read 16 KiB at a time that fails at the last read of its second pass, when the
 * restore has written batches of the snapshot's entries already.
 */
const failingSecondPass = (data: Uint8Array): SnapshotSource => {
  const most = 16 * 1024
  let passes = 0
  return {
    size: data.byteLength,
    read: (offset, length) => {
      if (offset === 0) passes++
      if (passes >= 2 && offset + most >= data.byteLength) return Effect.fail(new IoError({ message: "disk went away" }))
      return Effect.succeed(data.subarray(offset, offset + Math.min(length, most)))
    }
  }
}

/** The same entries in the version 1 format, count first, as old write-ahead logs hold them. */
const asVersion1 = (data: Uint8Array): Buffer => {
  const v2 = Buffer.from(data)
  const count = Buffer.alloc(4)
  count.writeUInt32BE(v2.readUInt32BE(v2.length - 8))
  const body = Buffer.concat([Buffer.from("SSMETA01", "latin1"), count, v2.subarray(8, v2.length - 8)])
  const crc = Buffer.alloc(4)
  crc.writeUInt32BE(crc32c(body))
  return Buffer.concat([body, crc])
}

describe("version 1 snapshots", () => {
  it.scoped("restore, read whole or 5 bytes at a time, to what the version 2 snapshot restores; damage is refused", () =>
    Effect.gen(function*() {
      const { md: source } = yield* backends[0]![1]
      yield* varied(source)
      const v2 = (yield* snapshotBytes(source)).data
      const v1 = asVersion1(v2)
      for (const from of [bytesSource(v1), stingySource(v1, 5)]) {
        const { md: target } = yield* backends[1]![1]
        yield* target.restore(from)
        expect((yield* bytesOf(target)).equals(Buffer.from(v2))).toBe(true)
      }
      const { md: target } = yield* backends[1]![1]
      const before = yield* bytesOf(target)
      for (const at of [3, 10, 100, v1.length - 2]) {
        const damaged = Buffer.from(v1)
        damaged[at] = damaged[at]! ^ 0x01
        expect((yield* Effect.flip(target.restore(bytesSource(damaged))))._tag).toBe("Corruption")
      }
      expect((yield* bytesOf(target)).equals(before)).toBe(true)
    }))
})

describe("a restore cut short on classic-level", () => {
  /** Run `body` on the database at `path`, closed after. */
  const withDb = <A, E>(path: string, body: (opened: Opened) => Effect.Effect<A, E>) =>
    Effect.scoped(Effect.flatMap(openClassicLevel(path), (db) => Effect.flatMap(over(makeStore(db, { sync: false })), body)))

  const emptyBytes = Effect.scoped(Effect.flatMap(Effect.suspend(() => over(makeTreeStore())), ({ md }) => bytesOf(md)))

  it.scoped("a store holding the restore marker reopens as the empty store at applied index 0", () =>
    Effect.gen(function*() {
      const path = join(yield* tempDir, "db")
      yield* withDb(path, ({ md, store }) =>
        Effect.gen(function*() {
          yield* varied(md)
          // What a crash after the restore's first batches leaves: the marker, no meta, a mix of keys.
          yield* store.write([
            [Keys.restoreMarkerKey, Buffer.alloc(0)],
            [Keys.metaKey, null],
            [Keys.inodeKey(999), Buffer.from("junk")],
            [Buffer.from([0xfe, 1, 2, 3]), Buffer.from("more junk")]
          ])
        }))
      yield* withDb(path, ({ md }) =>
        Effect.gen(function*() {
          expect(yield* md.appliedIndex).toBe(0)
          expect((yield* bytesOf(md)).equals(yield* emptyBytes)).toBe(true)
          expect((yield* md.readdir(ROOT_INODE, null, 10)).entries).toEqual([])
        }))
    }))

  it.scoped("a restore whose source fails in its second pass reopens empty, and restores again", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const data = yield* withDb(join(dir, "a"), ({ md }) =>
        Effect.zipRight(many(md, "f", 3000), Effect.map(snapshotBytes(md), (s) => s.data)))
      yield* withDb(join(dir, "b"), ({ md }) =>
        Effect.gen(function*() {
          yield* varied(md)
          expect((yield* Effect.flip(md.restore(failingSecondPass(data))))._tag).toBe("IoError")
        }))
      yield* withDb(join(dir, "b"), ({ md }) =>
        Effect.gen(function*() {
          expect(yield* md.appliedIndex).toBe(0)
          expect((yield* bytesOf(md)).equals(yield* emptyBytes)).toBe(true)
          yield* md.restore(bytesSource(data))
        }))
      yield* withDb(join(dir, "b"), ({ md }) =>
        Effect.gen(function*() {
          expect(yield* md.appliedIndex).toBe(3000)
          expect((yield* bytesOf(md)).equals(Buffer.from(data))).toBe(true)
        }))
    }))
})
