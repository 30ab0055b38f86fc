/**
 * The classic-level metadata store across restarts: the state and the applied index survive
 * closing and reopening the database, so a replicator replaying its log from the stored
 * applied index never applies an entry twice.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import type { MetadataCommand } from "../../src/domain/commands.ts"
import { ROOT_INODE } from "../../src/domain/fs.ts"
import { bytesSource, MetadataService } from "../../src/services/MetadataService.ts"
import { MetadataServiceClassicLevel } from "../../layers/metadata/classicLevel.ts"
import { snapshotBytes } from "../support/snapshotBytes.ts"

const CHUNK = 4096
const T = 1_700_000_000_000

const tempDir = Effect.acquireRelease(
  Effect.sync(() => mkdtempSync(join(tmpdir(), "sandstore-metadata-restart-"))),
  (dir) => Effect.sync(() => rmSync(dir, { recursive: true, force: true }))
)

const create = (parent: number, name: string): MetadataCommand =>
  ({ _tag: "Create", parent, name, mode: 0o644, uid: 1, gid: 1, exclusive: true, now: T })
const mkdir = (parent: number, name: string): MetadataCommand =>
  ({ _tag: "Mkdir", parent, name, mode: 0o755, uid: 1, gid: 1, now: T })

/** Run `body` against the store at `path`, opened for the duration and closed after. */
const withStore = <A, E>(path: string, body: Effect.Effect<A, E, MetadataService>, sync = false) =>
  Effect.provide(body, MetadataServiceClassicLevel({ path, chunkSize: CHUNK, sync }))

describe("MetadataService on classic-level across restarts", () => {
  it.scoped("state and applied index survive close and reopen; old entries stay no-ops", () =>
    Effect.gen(function*() {
      const path = join(yield* tempDir, "db")
      const first = yield* withStore(path, Effect.gen(function*() {
        const md = yield* MetadataService
        const dir = yield* md.apply(1, { request: null, command: mkdir(ROOT_INODE, "dir") })
        yield* md.apply(2, { request: null, command: create(2, "file") })
        yield* md.apply(3, {
          request: null,
          command: {
            _tag: "CommitWrite", inode: 3, txId: "t", end: 10, now: T,
            updates: [{ expectedVersionId: null, expectedLength: 0, chunk: { index: 0, versionId: "v", storedLength: 10, length: 10, checksum: 1, nodes: ["n"] } }]
          }
        })
        return { dir, snapshot: yield* snapshotBytes(md) }
      }), true)

      yield* withStore(path, Effect.gen(function*() {
        const md = yield* MetadataService
        expect(yield* md.appliedIndex).toBe(3)
        expect(Buffer.from((yield* snapshotBytes(md)).data).equals(Buffer.from(first.snapshot.data))).toBe(true)
        expect(yield* md.lookupPath("/dir/file")).toMatchObject({ inode: 3, size: 10 })
        expect((yield* md.chunks(3)).map((c) => c.versionId)).toEqual(["v"])
        // The replicator replays its log from the start: every entry is a no-op now.
        expect(yield* md.apply(1, { request: null, command: mkdir(ROOT_INODE, "dir") })).toEqual({ _tag: "Ok", result: null })
        expect(yield* md.apply(2, { request: null, command: create(2, "file") })).toEqual({ _tag: "Ok", result: null })
        expect(Buffer.from((yield* snapshotBytes(md)).data).equals(Buffer.from(first.snapshot.data))).toBe(true)
        // The next entry continues from the stored inode counter.
        const next = yield* md.apply(4, { request: null, command: create(ROOT_INODE, "later") })
        expect(next._tag === "Ok" && next.result?.inode).toBe(4)
      }))

      yield* withStore(path, Effect.gen(function*() {
        const md = yield* MetadataService
        expect(yield* md.appliedIndex).toBe(4)
        expect((yield* md.readdir(ROOT_INODE, null, 10)).entries.map((e) => e.name)).toEqual(["dir", "later"])
      }))
    }))

  it.scoped("a restored snapshot is what a reopened store holds", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const source = yield* withStore(join(dir, "a"), Effect.gen(function*() {
        const md = yield* MetadataService
        for (let i = 1; i <= 20; i++) yield* md.apply(i, { request: null, command: create(ROOT_INODE, `f${i}`) })
        return yield* snapshotBytes(md)
      }))
      yield* withStore(join(dir, "b"), Effect.gen(function*() {
        const md = yield* MetadataService
        yield* md.apply(1, { request: null, command: mkdir(ROOT_INODE, "gone") })
        yield* md.restore(bytesSource(source.data))
      }))
      yield* withStore(join(dir, "b"), Effect.gen(function*() {
        const md = yield* MetadataService
        expect(yield* md.appliedIndex).toBe(20)
        expect(Buffer.from((yield* snapshotBytes(md)).data).equals(Buffer.from(source.data))).toBe(true)
      }))
    }))

  it.scoped("a store that cannot be opened is an IoError", () =>
    Effect.gen(function*() {
      const file = join(yield* tempDir, "not-a-directory")
      writeFileSync(file, "x")
      const error = yield* Effect.flip(Layer.build(MetadataServiceClassicLevel({ path: join(file, "db"), chunkSize: CHUNK })))
      expect(error._tag).toBe("IoError")
    }))
})
