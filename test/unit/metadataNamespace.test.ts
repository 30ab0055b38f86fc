/**
 * The metadata state machine's namespace semantics, on both stores (memory-level and
 * classic-level in a temp dir). Every rejected command is checked for its error tag AND for
 * leaving the state exactly as a Noop at the same index would.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer, type Scope } from "effect"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import type { CommandOutcome, CommandResult, MetadataCommand, RequestTag } from "../../src/domain/commands.ts"
import type { SessionId } from "../../src/domain/session.ts"
import type { AttributeChanges, Attributes, ChunkRef } from "../../src/domain/fs.ts"
import { R_OK, ROOT_INODE, W_OK, X_OK } from "../../src/domain/fs.ts"
import { bytesSource, MetadataService, type MetadataServiceShape } from "../../src/services/MetadataService.ts"
import { MetadataServiceClassicLevel } from "../../layers/metadata/classicLevel.ts"
import { inodeKey } from "../../layers/metadata/keys.ts"
import { makeMemoryNamespace, MetadataServiceMemory, openMemoryLevel } from "../../layers/metadata/memory.ts"
import { makeNamespace } from "../../layers/metadata/namespace.ts"
import { makeStore } from "../../layers/metadata/store.ts"
import { makeTreeStore } from "../../layers/metadata/treeStore.ts"
import { TRANSACTION_TTL_MILLIS } from "../../src/domain/commands.ts"
import { formatVersionId } from "../../src/domain/versionId.ts"
import { snapshotBytes } from "../support/snapshotBytes.ts"

const CHUNK = 1024

const tempDir = Effect.acquireRelease(
  Effect.sync(() => mkdtempSync(join(tmpdir(), "sandstore-metadata-"))),
  (dir) => Effect.sync(() => rmSync(dir, { recursive: true, force: true }))
)

const backends = [
  { name: "memory-level", layer: MetadataServiceMemory({ chunkSize: CHUNK }) },
  // The simulation's store: a persistent tree in memory.
  { name: "tree store", layer: Layer.effect(MetadataService, Effect.orDie(Effect.suspend(() => makeNamespace(makeTreeStore(), { chunkSize: CHUNK })))) },
  {
    name: "classic-level",
    layer: Layer.unwrapScoped(
      Effect.map(tempDir, (dir) => MetadataServiceClassicLevel({ path: join(dir, "db"), chunkSize: CHUNK }))
    )
  }
] as const

// --- command builders -------------------------------------------------------------------

const T = 1_700_000_000_000

const create = (parent: number | string, name: string, more: { exclusive?: boolean; mode?: number; now?: number } = {}): MetadataCommand =>
  ({ _tag: "Create", parent, name, mode: more.mode ?? 0o644, uid: 1000, gid: 100, exclusive: more.exclusive ?? false, now: more.now ?? T })
const mkdir = (parent: number | string, name: string, now = T): MetadataCommand =>
  ({ _tag: "Mkdir", parent, name, mode: 0o755, uid: 1000, gid: 100, now })
const unlink = (parent: number | string, name: string, now = T): MetadataCommand => ({ _tag: "Unlink", parent, name, now })
const rmdir = (parent: number | string, name: string, now = T): MetadataCommand => ({ _tag: "Rmdir", parent, name, now })
const rename = (srcParent: number | string, srcName: string, dstParent: number | string, dstName: string, now = T): MetadataCommand =>
  ({ _tag: "Rename", srcParent, srcName, dstParent, dstName, now })
const setAttr = (inode: number, changes: AttributeChanges, now = T): MetadataCommand => ({ _tag: "SetAttr", inode, changes, now })
const chunk = (index: number, versionId: string, length: number, storedLength = length): ChunkRef =>
  ({ index, versionId, storedLength, length, checksum: 7, nodes: ["n1", "n2"] })
const commit = (
  inode: number,
  updates: ReadonlyArray<readonly [expected: string | null, chunk: ChunkRef, expectedLength?: number]>,
  end: number,
  now = T
): MetadataCommand => ({
  _tag: "CommitWrite",
  inode,
  txId: "tx",
  updates: updates.map(([expectedVersionId, chunk, expectedLength = 0]) => ({ expectedVersionId, expectedLength, chunk })),
  end,
  now
})
const forget = (...versionIds: Array<string>): MetadataCommand => ({ _tag: "ForgetGarbage", versionIds })
const noop: MetadataCommand = { _tag: "Noop" }

// --- harness ----------------------------------------------------------------------------

interface Harness {
  readonly md: MetadataServiceShape
  readonly run: (command: MetadataCommand, request?: RequestTag | null) => Effect.Effect<CommandOutcome, unknown>
  readonly ok: (command: MetadataCommand) => Effect.Effect<CommandResult, unknown>
  readonly attrs: (command: MetadataCommand) => Effect.Effect<Attributes, unknown>
  /** Applies `command`, expects `Err(tag)` and a state equal to the old one plus a Noop. */
  readonly rejects: (tag: string, command: MetadataCommand) => Effect.Effect<void, unknown, Scope.Scope>
  /** Applies `command`, expects `Ok` and a state equal to the old one plus a Noop. */
  readonly changesNothing: (command: MetadataCommand) => Effect.Effect<CommandResult, unknown, Scope.Scope>
}

const harness = Effect.gen(function*() {
  const md = yield* MetadataService
  let index = yield* md.appliedIndex
  const run = (command: MetadataCommand, request: RequestTag | null = null) => md.apply(++index, { request, command })
  const ok = (command: MetadataCommand) =>
    Effect.flatMap(run(command), (outcome) =>
      outcome._tag === "Ok"
        ? Effect.succeed(outcome.result)
        : Effect.dieMessage(`expected Ok for ${command._tag}, got ${outcome.error._tag}: ${outcome.error.message}`))
  const attrs = (command: MetadataCommand) =>
    Effect.flatMap(ok(command), (result) => (result === null ? Effect.dieMessage("expected attributes") : Effect.succeed(result)))

  const unchangedBy = (command: MetadataCommand) =>
    Effect.gen(function*() {
      const before = yield* snapshotBytes(md)
      const outcome = yield* run(command)
      const after = yield* snapshotBytes(md)
      const reference = yield* makeMemoryNamespace({ chunkSize: CHUNK })
      yield* reference.restore(bytesSource(before.data))
      yield* reference.apply(index, { request: null, command: noop })
      const expected = yield* snapshotBytes(reference)
      expect(after.appliedIndex).toBe(index)
      expect(Buffer.from(after.data).equals(Buffer.from(expected.data))).toBe(true)
      return outcome
    })

  const rejects = (tag: string, command: MetadataCommand) =>
    Effect.map(unchangedBy(command), (outcome) => {
      expect(outcome._tag === "Err" ? outcome.error._tag : "Ok").toBe(tag)
    })
  const changesNothing = (command: MetadataCommand) =>
    Effect.flatMap(unchangedBy(command), (outcome) =>
      outcome._tag === "Ok" ? Effect.succeed(outcome.result) : Effect.dieMessage(`expected Ok, got ${outcome.error._tag}`))

  return { md, run, ok, attrs, rejects, changesNothing } satisfies Harness
})

/** Expects `effect` to fail with a tagged error `tag`. */
const failsWith = <A, E extends { readonly _tag: string }, R>(tag: string, effect: Effect.Effect<A, E, R>) =>
  Effect.map(Effect.flip(effect), (error) => expect(error._tag).toBe(tag))

// ----------------------------------------------------------------------------------------

for (const backend of backends) {
  describe(`MetadataService on ${backend.name}`, () => {
    const test = (name: string, body: Effect.Effect<void, unknown, MetadataService | Scope.Scope>) =>
      it.scoped(name, () => Effect.provide(body, backend.layer))

    test("applyAll gives each entry the state its predecessors left and stores what apply one by one would", Effect.gen(function*() {
      const h = yield* harness
      const commands: ReadonlyArray<MetadataCommand> = [
        mkdir("/", "d"), create("/d", "f", { exclusive: true }), create("/d", "f", { exclusive: true }),
        rename("/d", "f", "/", "g"), mkdir("/d", "e"), rmdir("/", "d"), unlink("/", "g"), setAttr(2, { mode: 0o700 })
      ]
      const entries = commands.map((command, k) => ({ index: k + 1, entry: { request: null, command } }))
      const outcomes = yield* h.md.applyAll(entries)
      expect(outcomes.map((o) => (o._tag === "Ok" ? "Ok" : o.error._tag))).toEqual(
        ["Ok", "Ok", "AlreadyExists", "Ok", "Ok", "NotEmpty", "Ok", "Ok"]
      )
      const reference = yield* makeMemoryNamespace({ chunkSize: CHUNK })
      const one = yield* Effect.forEach(entries, ({ entry, index }) => reference.apply(index, entry))
      expect(outcomes).toEqual(one)
      const [batched, oneByOne] = [yield* snapshotBytes(h.md), yield* snapshotBytes(reference)]
      expect(batched.appliedIndex).toBe(8)
      expect(Buffer.from(batched.data).equals(Buffer.from(oneByOne.data))).toBe(true)
      // Entries at or below the applied index stay no-ops inside a batch too.
      expect((yield* h.md.applyAll([entries[0]!, { index: 9, entry: { request: null, command: mkdir("/", "x") } }])).map((o) => o._tag))
        .toEqual(["Ok", "Ok"])
      expect(yield* h.md.lookupPath("/x")).toMatchObject({ type: "directory" })
      expect(yield* h.md.appliedIndex).toBe(9)
    }))

    test("changes may name their directory by path, resolved when applied, with the same errors as a lookup", Effect.gen(function*() {
      const h = yield* harness
      const a = yield* h.attrs(mkdir("/", "a"))
      const b = yield* h.attrs(mkdir("/a", "b"))
      const file = yield* h.attrs(create("/a/b/", "f", { exclusive: true }))
      expect(yield* h.md.lookupPath("/a/b/f")).toEqual(file)
      expect((yield* h.md.getattr(b.inode)).nlink).toBe(2)
      expect((yield* h.md.getattr(a.inode)).nlink).toBe(3)
      // "." and ".." resolve as in a lookup; by path and by inode name the same directory.
      yield* h.rejects("AlreadyExists", create("/a/./b/../b", "f", { exclusive: true }))
      yield* h.rejects("AlreadyExists", create(b.inode, "f", { exclusive: true }))
      yield* h.rejects("NotFound", create("/a/missing", "g"))
      yield* h.rejects("NotADirectory", create("/a/b/f", "g"))
      yield* h.rejects("NotADirectory", mkdir("/a/b/f/", "g"))
      yield* h.rejects("InvalidArgument", mkdir("/a/\u0000", "g"))
      yield* h.ok(rename("/a/b", "f", "/a", "moved"))
      expect(yield* h.md.lookupPath("/a/moved")).toMatchObject({ inode: file.inode })
      yield* h.rejects("NotFound", unlink("/a/b", "f"))
      yield* h.ok(unlink("/a", "moved"))
      yield* h.ok(rmdir("/a", "b"))
      yield* h.rejects("NotFound", rmdir("/a/b", "x"))
      expect(yield* h.md.readdir(a.inode, null, 10)).toMatchObject({ entries: [] })
      expect((yield* h.md.getattr(a.inode)).nlink).toBe(2)
    }))

    test("an empty store holds only a deterministic root directory", Effect.gen(function*() {
      const { md } = yield* harness
      expect(yield* md.appliedIndex).toBe(0)
      expect(yield* md.getattr(ROOT_INODE)).toEqual({
        inode: 1, type: "directory", mode: 0o755, uid: 0, gid: 0, size: 0, nlink: 2, atime: 0, mtime: 0, ctime: 0
      })
      expect(yield* md.lookupPath("/")).toEqual(yield* md.getattr(ROOT_INODE))
      expect(yield* md.fsstat).toEqual({ files: 0, directories: 1, bytes: 0, chunks: 0 })
      expect(yield* md.readdir(ROOT_INODE, null, 10)).toEqual({ entries: [], cookie: null })
      const { changesNothing } = yield* harness
      expect(yield* changesNothing(noop)).toBeNull()
    }))

    test("create makes a file with counter-allocated inodes and touches the parent", Effect.gen(function*() {
      const { md, attrs } = yield* harness
      const a = yield* attrs(create(ROOT_INODE, "a", { now: T + 5 }))
      expect(a).toEqual({ inode: 2, type: "file", mode: 0o644, uid: 1000, gid: 100, size: 0, nlink: 1, atime: T + 5, mtime: T + 5, ctime: T + 5 })
      const b = yield* attrs(create(ROOT_INODE, "b"))
      expect(b.inode).toBe(3)
      const root = yield* md.getattr(ROOT_INODE)
      expect([root.nlink, root.mtime, root.ctime]).toEqual([2, T, T])
      expect(yield* md.lookup(ROOT_INODE, "a")).toEqual(a)
      expect(yield* md.fsstat).toEqual({ files: 2, directories: 1, bytes: 0, chunks: 0 })
    }))

    test("create: invalid names are InvalidArgument and change nothing", Effect.gen(function*() {
      const { rejects, attrs } = yield* harness
      for (const name of ["", "a/b", "a\0b", ".", "..", "x".repeat(256), "é".repeat(128), "\ud800"]) {
        yield* rejects("InvalidArgument", create(ROOT_INODE, name))
        yield* rejects("InvalidArgument", mkdir(ROOT_INODE, name))
      }
      // 255 bytes is the limit, counted in UTF-8.
      yield* attrs(create(ROOT_INODE, "x".repeat(255)))
      yield* attrs(create(ROOT_INODE, "é".repeat(127) + "x"))
    }))

    test("create: missing parent, file parent, existing names", Effect.gen(function*() {
      const { attrs, md, rejects } = yield* harness
      const file = yield* attrs(create(ROOT_INODE, "file"))
      const dir = yield* attrs(mkdir(ROOT_INODE, "dir"))
      yield* rejects("NotFound", create(99, "x"))
      yield* rejects("NotADirectory", create(file.inode, "x"))
      yield* rejects("AlreadyExists", create(ROOT_INODE, "file", { exclusive: true }))
      yield* rejects("AlreadyExists", create(ROOT_INODE, "dir", { exclusive: true }))
      yield* rejects("IsADirectory", create(ROOT_INODE, "dir"))
      // Non-exclusive create of an existing file returns it as it is, with the old times.
      expect(yield* attrs(create(ROOT_INODE, "file", { mode: 0o600, now: T + 99 }))).toEqual(file)
      expect(yield* md.getattr(file.inode)).toEqual(file)
      expect(dir.type).toBe("directory")
    }))

    test("mkdir links the new directory into its parent", Effect.gen(function*() {
      const { md, attrs, rejects } = yield* harness
      const dir = yield* attrs(mkdir(ROOT_INODE, "dir", T + 1))
      expect(dir).toMatchObject({ type: "directory", nlink: 2, size: 0, mtime: T + 1 })
      yield* attrs(mkdir(dir.inode, "sub"))
      yield* attrs(create(dir.inode, "f"))
      expect((yield* md.getattr(ROOT_INODE)).nlink).toBe(3)
      expect((yield* md.getattr(dir.inode)).nlink).toBe(3)
      yield* rejects("AlreadyExists", mkdir(ROOT_INODE, "dir"))
      yield* rejects("AlreadyExists", mkdir(dir.inode, "f"))
      yield* rejects("NotFound", mkdir(1234, "x"))
      const file = yield* md.lookup(dir.inode, "f")
      yield* rejects("NotADirectory", mkdir(file.inode, "x"))
      expect(yield* md.fsstat).toMatchObject({ files: 1, directories: 3 })
    }))

    test("MoveReplica names a new holder in place of a gone one, only while the chunk is at that version; chunkPage walks every chunk", Effect.gen(function*() {
      const { md, changesNothing, ok, attrs } = yield* harness
      const a = yield* attrs(create(ROOT_INODE, "a"))
      const b = yield* attrs(create(ROOT_INODE, "b"))
      yield* ok(commit(a.inode, [[null, chunk(0, "a0", CHUNK)], [null, chunk(1, "a1", 10)]], CHUNK + 10))
      yield* ok(commit(b.inode, [[null, chunk(0, "b0", 5)]], 5))
      const move = (inode: number, index: number, versionId: string, from: string, to: string): MetadataCommand =>
        ({ _tag: "MoveReplica", inode, index, versionId, from, to })
      yield* ok(move(a.inode, 1, "a1", "n2", "n3"))
      expect((yield* md.chunks(a.inode)).map((c) => c.nodes)).toEqual([["n1", "n2"], ["n1", "n3"]])
      // Another version, a node that does not hold it, a node that already does, a missing chunk: no change.
      yield* changesNothing(move(a.inode, 0, "old", "n2", "n3"))
      yield* changesNothing(move(a.inode, 0, "a0", "n9", "n3"))
      yield* changesNothing(move(a.inode, 1, "a1", "n1", "n3"))
      yield* changesNothing(move(a.inode, 5, "a1", "n1", "n4"))
      const walk = (yield* md.chunkPage(null, 2)).map(({ chunk: c, inode }) => [inode, c.versionId])
      expect(walk).toEqual([[a.inode, "a0"], [a.inode, "a1"]])
      expect((yield* md.chunkPage({ inode: a.inode, index: 1 }, 10)).map(({ chunk: c }) => c.versionId)).toEqual(["b0"])
      expect(yield* md.chunkPage({ inode: b.inode, index: 0 }, 10)).toEqual([])
    }))

    test("unlink removes a file and moves its chunks to garbage", Effect.gen(function*() {
      const { md, ok, attrs, rejects } = yield* harness
      const dir = yield* attrs(mkdir(ROOT_INODE, "dir"))
      const file = yield* attrs(create(ROOT_INODE, "f"))
      yield* ok(commit(file.inode, [[null, chunk(0, "v0", CHUNK)], [null, chunk(1, "v1", 10)]], CHUNK + 10))
      yield* rejects("IsADirectory", unlink(ROOT_INODE, "dir"))
      yield* rejects("NotFound", unlink(ROOT_INODE, "missing"))
      yield* rejects("NotFound", unlink(77, "f"))
      yield* rejects("InvalidArgument", unlink(ROOT_INODE, ".."))
      expect(yield* md.fsstat).toEqual({ files: 1, directories: 2, bytes: CHUNK + 10, chunks: 2 })
      yield* ok(unlink(ROOT_INODE, "f", T + 3))
      yield* failsWith("NotFound", md.getattr(file.inode))
      yield* failsWith("NotFound", md.lookup(ROOT_INODE, "f"))
      expect((yield* md.garbage(10)).map((c) => c.versionId)).toEqual(["v0", "v1"])
      expect(yield* md.fsstat).toEqual({ files: 0, directories: 2, bytes: 0, chunks: 0 })
      expect((yield* md.getattr(ROOT_INODE)).mtime).toBe(T + 3)
      expect((yield* md.getattr(dir.inode)).type).toBe("directory")
    }))

    test("rmdir: files, non-empty and missing directories are refused at apply time", Effect.gen(function*() {
      const { md, ok, attrs, rejects } = yield* harness
      const dir = yield* attrs(mkdir(ROOT_INODE, "dir"))
      yield* attrs(create(ROOT_INODE, "f"))
      yield* attrs(create(dir.inode, "inside"))
      yield* rejects("NotADirectory", rmdir(ROOT_INODE, "f"))
      yield* rejects("NotEmpty", rmdir(ROOT_INODE, "dir"))
      yield* rejects("NotFound", rmdir(ROOT_INODE, "missing"))
      yield* rejects("InvalidArgument", rmdir(ROOT_INODE, "."))
      yield* ok(unlink(dir.inode, "inside"))
      expect((yield* md.getattr(ROOT_INODE)).nlink).toBe(3)
      yield* ok(rmdir(ROOT_INODE, "dir", T + 8))
      expect(yield* md.getattr(ROOT_INODE)).toMatchObject({ nlink: 2, mtime: T + 8, ctime: T + 8 })
      yield* failsWith("NotFound", md.getattr(dir.inode))
      expect(yield* md.fsstat).toMatchObject({ files: 1, directories: 1 })
    }))

    test("rename: error cases change nothing", Effect.gen(function*() {
      const { attrs, rejects, changesNothing } = yield* harness
      const a = yield* attrs(mkdir(ROOT_INODE, "a"))
      const b = yield* attrs(mkdir(a.inode, "b"))
      yield* attrs(mkdir(b.inode, "c"))
      const f = yield* attrs(create(ROOT_INODE, "f"))
      const full = yield* attrs(mkdir(ROOT_INODE, "full"))
      yield* attrs(create(full.inode, "x"))

      yield* rejects("NotFound", rename(ROOT_INODE, "missing", ROOT_INODE, "y"))
      yield* rejects("NotFound", rename(99, "f", ROOT_INODE, "y"))
      yield* rejects("NotFound", rename(ROOT_INODE, "f", 99, "y"))
      yield* rejects("NotADirectory", rename(ROOT_INODE, "a", ROOT_INODE, "f"))
      yield* rejects("IsADirectory", rename(ROOT_INODE, "f", ROOT_INODE, "a"))
      yield* rejects("NotEmpty", rename(ROOT_INODE, "a", ROOT_INODE, "full"))
      yield* rejects("InvalidArgument", rename(ROOT_INODE, "a", a.inode, "self"))
      yield* rejects("InvalidArgument", rename(ROOT_INODE, "a", b.inode, "deeper"))
      yield* rejects("InvalidArgument", rename(ROOT_INODE, "f", ROOT_INODE, "bad/name"))
      yield* rejects("InvalidArgument", rename(ROOT_INODE, "..", ROOT_INODE, "x"))
      yield* rejects("NotADirectory", rename(f.inode, "x", ROOT_INODE, "y"))
      yield* rejects("NotADirectory", rename(ROOT_INODE, "f", f.inode, "y"))
      // Same source and destination: nothing happens, not even a ctime change.
      expect(yield* changesNothing(rename(ROOT_INODE, "f", ROOT_INODE, "f"))).toBeNull()
      expect(yield* changesNothing(rename(ROOT_INODE, "a", ROOT_INODE, "a"))).toBeNull()
    }))

    test("rename moves directories between parents and fixes link counts and ..", Effect.gen(function*() {
      const { md, ok, attrs } = yield* harness
      const a = yield* attrs(mkdir(ROOT_INODE, "a"))
      const b = yield* attrs(mkdir(ROOT_INODE, "b"))
      const moved = yield* attrs(mkdir(a.inode, "m"))
      yield* attrs(create(moved.inode, "leaf"))
      expect((yield* md.getattr(a.inode)).nlink).toBe(3)
      yield* ok(rename(a.inode, "m", b.inode, "n", T + 20))
      expect(yield* md.getattr(a.inode)).toMatchObject({ nlink: 2, mtime: T + 20, ctime: T + 20 })
      expect(yield* md.getattr(b.inode)).toMatchObject({ nlink: 3, mtime: T + 20, ctime: T + 20 })
      expect(yield* md.getattr(moved.inode)).toMatchObject({ nlink: 2, ctime: T + 20, mtime: moved.mtime })
      expect((yield* md.lookupPath("/b/n/leaf")).type).toBe("file")
      expect((yield* md.lookupPath("/b/n/..")).inode).toBe(b.inode)
      yield* failsWith("NotFound", md.lookup(a.inode, "m"))
      // A rename within one directory keeps its link count.
      yield* ok(rename(b.inode, "n", b.inode, "o"))
      expect((yield* md.getattr(b.inode)).nlink).toBe(3)
      expect((yield* md.readdir(b.inode, null, 10)).entries.map((e) => e.name)).toEqual(["o"])
    }))

    test("rename over an existing name replaces it", Effect.gen(function*() {
      const { md, ok, attrs } = yield* harness
      const src = yield* attrs(create(ROOT_INODE, "src"))
      const dst = yield* attrs(create(ROOT_INODE, "dst"))
      yield* ok(commit(dst.inode, [[null, chunk(0, "old", 100)]], 100))
      yield* ok(rename(ROOT_INODE, "src", ROOT_INODE, "dst"))
      expect((yield* md.lookup(ROOT_INODE, "dst")).inode).toBe(src.inode)
      yield* failsWith("NotFound", md.getattr(dst.inode))
      expect((yield* md.garbage(10)).map((c) => c.versionId)).toEqual(["old"])
      expect(yield* md.fsstat).toEqual({ files: 1, directories: 1, bytes: 0, chunks: 0 })
      // An empty directory is replaced by a directory.
      const d1 = yield* attrs(mkdir(ROOT_INODE, "d1"))
      const d2 = yield* attrs(mkdir(ROOT_INODE, "d2"))
      expect((yield* md.getattr(ROOT_INODE)).nlink).toBe(4)
      yield* ok(rename(ROOT_INODE, "d1", ROOT_INODE, "d2"))
      expect((yield* md.lookup(ROOT_INODE, "d2")).inode).toBe(d1.inode)
      yield* failsWith("NotFound", md.getattr(d2.inode))
      expect((yield* md.getattr(ROOT_INODE)).nlink).toBe(3)
      expect((yield* md.readdir(ROOT_INODE, null, 10)).entries.map((e) => e.name)).toEqual(["d2", "dst"])
      expect(yield* md.fsstat).toMatchObject({ files: 1, directories: 2 })
    }))

    test("setattr sets what it is given and stamps ctime", Effect.gen(function*() {
      const { md, attrs, rejects } = yield* harness
      const file = yield* attrs(create(ROOT_INODE, "f"))
      const dir = yield* attrs(mkdir(ROOT_INODE, "d"))
      const changed = yield* attrs(setAttr(file.inode, { mode: 0o600, uid: 5, gid: 6, atime: 11, mtime: 12 }, T + 50))
      expect(changed).toEqual({ ...file, mode: 0o600, uid: 5, gid: 6, atime: 11, mtime: 12, ctime: T + 50 })
      expect(yield* md.getattr(file.inode)).toEqual(changed)
      yield* rejects("IsADirectory", setAttr(dir.inode, { size: 0 }))
      yield* rejects("NotFound", setAttr(404, { mode: 0 }))
      yield* rejects("InvalidArgument", setAttr(file.inode, { size: -1 }))
      expect((yield* attrs(setAttr(dir.inode, { mode: 0o700 }))).mode).toBe(0o700)
      // A size change stamps mtime = now unless the same setattr sets mtime explicitly.
      expect(yield* attrs(setAttr(file.inode, { size: 10 }, T + 51))).toMatchObject({ size: 10, mtime: T + 51, ctime: T + 51 })
      expect(yield* attrs(setAttr(file.inode, { size: 20, mtime: 5 }, T + 52))).toMatchObject({ size: 20, mtime: 5, ctime: T + 52 })
    }))

    test("truncate drops and shortens chunks; extension only grows the size", Effect.gen(function*() {
      const { md, ok, attrs } = yield* harness
      const file = yield* attrs(create(ROOT_INODE, "f"))
      yield* ok(commit(file.inode, [
        [null, chunk(0, "c0", CHUNK)],
        [null, chunk(1, "c1", CHUNK)],
        [null, chunk(2, "c2", 100)]
      ], 2 * CHUNK + 100))
      const shrunk = yield* attrs(setAttr(file.inode, { size: CHUNK + 10 }, T + 60))
      expect(shrunk).toMatchObject({ size: CHUNK + 10, mtime: T + 60, ctime: T + 60 })
      expect(yield* md.chunks(file.inode)).toEqual([chunk(0, "c0", CHUNK), chunk(1, "c1", 10, CHUNK)])
      expect((yield* md.garbage(10)).map((c) => c.versionId)).toEqual(["c2"])
      // Extension leaves the chunk map alone: the bytes past 10 in c1 read as zeros.
      yield* attrs(setAttr(file.inode, { size: 5 * CHUNK }))
      expect(yield* md.chunks(file.inode)).toEqual([chunk(0, "c0", CHUNK), chunk(1, "c1", 10, CHUNK)])
      expect(yield* md.fsstat).toEqual({ files: 1, directories: 1, bytes: 5 * CHUNK, chunks: 2 })
      // Truncating to a chunk boundary drops the chunk that starts there.
      yield* attrs(setAttr(file.inode, { size: CHUNK }, T + 65))
      expect(yield* md.chunks(file.inode)).toEqual([chunk(0, "c0", CHUNK)])
      // Same size: ctime only.
      const same = yield* attrs(setAttr(file.inode, { size: CHUNK }, T + 70))
      expect([same.mtime, same.ctime]).toEqual([T + 65, T + 70])
      yield* attrs(setAttr(file.inode, { size: 0 }))
      expect(yield* md.chunks(file.inode)).toEqual([])
      expect((yield* md.garbage(10)).map((c) => c.versionId)).toEqual(["c2", "c1", "c0"])
      expect(yield* md.fsstat).toEqual({ files: 1, directories: 1, bytes: 0, chunks: 0 })
    }))

    test("commit-write installs chunk versions conditionally and atomically", Effect.gen(function*() {
      const { md, attrs, rejects } = yield* harness
      const file = yield* attrs(create(ROOT_INODE, "f"))
      const dir = yield* attrs(mkdir(ROOT_INODE, "d"))
      yield* rejects("NotFound", commit(404, [[null, chunk(0, "x", 1)]], 1))
      yield* rejects("IsADirectory", commit(dir.inode, [[null, chunk(0, "x", 1)]], 1))
      // A sparse write lands at its own index; the size covers the hole.
      const first = yield* attrs(commit(file.inode, [[null, chunk(3, "a3", 50)]], 3 * CHUNK + 50, T + 1))
      expect(first).toMatchObject({ size: 3 * CHUNK + 50, mtime: T + 1, ctime: T + 1 })
      // Second update expects a version that is not there: nothing is installed, not even the first.
      yield* rejects("Conflict", commit(file.inode, [[null, chunk(0, "b0", CHUNK)], ["wrong", chunk(3, "b3", 60)]], 3 * CHUNK + 60))
      yield* rejects("Conflict", commit(file.inode, [[null, chunk(3, "b3", 60)]], 3 * CHUNK + 60))
      yield* rejects("Conflict", commit(file.inode, [["a3", chunk(0, "b0", 1)]], 1))
      yield* rejects("InvalidArgument", commit(file.inode, [[null, chunk(5, "z", 1)]], 5 * CHUNK))
      yield* rejects("InvalidArgument", commit(file.inode, [[null, chunk(0, "z", 1)], [null, chunk(0, "y", 1)]], 1))
      yield* rejects("InvalidArgument", commit(file.inode, [[null, chunk(0, "z", 5, 4)]], 5))
      yield* rejects("InvalidArgument", commit(file.inode, [[null, chunk(0, "z", CHUNK + 1)]], CHUNK + 1))
      yield* rejects("InvalidArgument", commit(file.inode, [[null, chunk(-1, "z", 1)]], 1))
      yield* rejects("InvalidArgument", commit(file.inode, [[null, chunk(0, "", 1)]], 1))
      const second = yield* attrs(commit(file.inode, [[null, chunk(0, "b0", CHUNK)], ["a3", chunk(3, "b3", 60), 50]], 3 * CHUNK + 60, T + 2))
      expect(second).toMatchObject({ size: 3 * CHUNK + 60, mtime: T + 2 })
      expect(yield* md.chunks(file.inode)).toEqual([chunk(0, "b0", CHUNK), chunk(3, "b3", 60)])
      expect((yield* md.garbage(10)).map((c) => c.versionId)).toEqual(["a3"])
      // A write inside the file keeps the size.
      expect((yield* attrs(commit(file.inode, [["b0", chunk(0, "c0", CHUNK), CHUNK]], 10))).size).toBe(3 * CHUNK + 60)
      // A version already in the garbage list cannot come back.
      yield* rejects("InvalidArgument", commit(file.inode, [[null, chunk(1, "a3", 1)]], CHUNK + 1))
      expect(yield* md.fsstat).toEqual({ files: 1, directories: 2, bytes: 3 * CHUNK + 60, chunks: 2 })
    }))

    test("a writer that merged bytes from before a truncate conflicts, so truncated bytes never come back", Effect.gen(function*() {
      const { md, ok, attrs, rejects } = yield* harness
      const file = yield* attrs(create(ROOT_INODE, "f"))
      yield* ok(commit(file.inode, [[null, chunk(0, "v1", CHUNK)]], CHUNK))
      yield* ok(setAttr(file.inode, { size: 100 }))
      yield* ok(setAttr(file.inode, { size: CHUNK }))
      // A writer that copied all of v1 before the truncate commits against the same version id.
      yield* rejects("Conflict", commit(file.inode, [["v1", chunk(0, "v2", CHUNK), CHUNK]], 10))
      expect(yield* md.chunks(file.inode)).toEqual([chunk(0, "v1", 100, CHUNK)])
      // One that merged the truncated version commits; no chunk extends past the size.
      yield* ok(setAttr(file.inode, { size: 50 }))
      yield* ok(commit(file.inode, [["v1", chunk(0, "v2", CHUNK), 50]], 10))
      expect(yield* md.chunks(file.inode)).toEqual([chunk(0, "v2", 50, CHUNK)])
    }))

    test("a write transaction older than the TTL (by the state's clock) conflicts", Effect.gen(function*() {
      const { md, ok, attrs, rejects } = yield* harness
      const file = yield* attrs(create(ROOT_INODE, "f"))
      const minted = (createdAt: number) => formatVersionId({ inode: file.inode, index: 0, createdAt, nonce: "ab" })
      // the collector's ForgetGarbage advances the clock past the old transaction's deadline
      yield* ok({ _tag: "ForgetGarbage", versionIds: [], now: T + TRANSACTION_TTL_MILLIS + 1 })
      yield* rejects("Conflict", commit(file.inode, [[null, chunk(0, minted(T), 10)]], 10, T))
      yield* ok(commit(file.inode, [[null, chunk(0, minted(T + 2), 10)]], 10, T + 2))
      expect((yield* md.chunks(file.inode)).map((c) => c.versionId)).toEqual([minted(T + 2)])
    }))

    test("a request id reused for another request is refused, not answered with the first outcome", Effect.gen(function*() {
      const { md, ok, run } = yield* harness
      const session = "5".repeat(32) as SessionId
      yield* ok({ _tag: "OpenSession", session, create: true, now: T })
      const first = yield* run(create(ROOT_INODE, "f"), { session, seq: 1, ackedBelow: 1, digest: 11 })
      expect(first._tag).toBe("Ok")
      const reused = yield* run(mkdir(ROOT_INODE, "d"), { session, seq: 1, ackedBelow: 1, digest: 22 })
      expect(reused._tag === "Err" ? reused.error._tag : "Ok").toBe("RequestIdReused")
      expect((yield* Effect.flip(md.lookup(ROOT_INODE, "d")))._tag).toBe("NotFound")
      // the same request again still gets its first outcome
      expect(yield* run(create(ROOT_INODE, "f"), { session, seq: 1, ackedBelow: 1, digest: 11 })).toEqual(first)
    }))

    test("forget-garbage removes the listed versions only", Effect.gen(function*() {
      const { md, ok, attrs } = yield* harness
      const file = yield* attrs(create(ROOT_INODE, "f"))
      yield* ok(commit(file.inode, [[null, chunk(0, "g1", 1)], [null, chunk(1, "g2", 1)], [null, chunk(2, "g3", 1)]], 2 * CHUNK + 1))
      yield* ok(unlink(ROOT_INODE, "f"))
      expect((yield* md.garbage(2)).map((c) => c.versionId)).toEqual(["g1", "g2"])
      expect(yield* md.garbage(0)).toEqual([])
      yield* ok(forget("g2", "unknown"))
      expect((yield* md.garbage(10)).map((c) => c.versionId)).toEqual(["g1", "g3"])
      yield* ok(forget("g1", "g3"))
      expect(yield* md.garbage(10)).toEqual([])
    }))

    test("lookup and lookupPath resolve names, . and ..", Effect.gen(function*() {
      const { md, attrs } = yield* harness
      const a = yield* attrs(mkdir(ROOT_INODE, "a"))
      const b = yield* attrs(mkdir(a.inode, "b"))
      const f = yield* attrs(create(b.inode, "f"))
      expect((yield* md.lookupPath("/a/b/f")).inode).toBe(f.inode)
      expect((yield* md.lookupPath("//a/./b//f")).inode).toBe(f.inode)
      expect((yield* md.lookupPath("/a/b/../b/f")).inode).toBe(f.inode)
      expect((yield* md.lookupPath("/a/b/")).inode).toBe(b.inode)
      expect((yield* md.lookupPath("/..")).inode).toBe(ROOT_INODE)
      expect((yield* md.lookupPath("/a/../../a")).inode).toBe(a.inode)
      yield* failsWith("InvalidArgument", md.lookupPath("a/b"))
      yield* failsWith("InvalidArgument", md.lookupPath(""))
      yield* failsWith("NotFound", md.lookupPath("/a/missing"))
      yield* failsWith("NotFound", md.lookupPath("/a/missing/f"))
      yield* failsWith("NotADirectory", md.lookupPath("/a/b/f/x"))
      yield* failsWith("NotADirectory", md.lookupPath("/a/b/f/.."))
      yield* failsWith("NotADirectory", md.lookupPath("/a/b/f/"))
      yield* failsWith("InvalidArgument", md.lookupPath(`/a/${"x".repeat(256)}`))
      expect((yield* md.lookup(a.inode, "b")).inode).toBe(b.inode)
      yield* failsWith("NotADirectory", md.lookup(f.inode, "x"))
      yield* failsWith("NotFound", md.lookup(999, "x"))
      yield* failsWith("NotFound", md.lookup(a.inode, "x"))
      yield* failsWith("InvalidArgument", md.lookup(a.inode, "x/y"))
      yield* failsWith("NotFound", md.getattr(999))
      yield* failsWith("NotFound", md.getattr(0))
      yield* failsWith("NotFound", md.getattr(1.5))
    }))

    test("access checks owner, group and other bits; root reads and writes anything", Effect.gen(function*() {
      const { md, attrs } = yield* harness
      // owner rw-, group r-x, other --x
      const f = yield* attrs({ _tag: "Create", parent: ROOT_INODE, name: "f", mode: 0o651, uid: 10, gid: 20, exclusive: true, now: T })
      const plain = yield* attrs({ _tag: "Create", parent: ROOT_INODE, name: "p", mode: 0o600, uid: 10, gid: 20, exclusive: true, now: T })
      const allowed = (inode: number, uid: number, gid: number, mask: number) =>
        Effect.map(Effect.either(md.access(inode, uid, gid, mask)), (result) => {
          if (result._tag === "Left") expect(result.left._tag).toBe("PermissionDenied")
          return result._tag === "Right"
        })
      expect(yield* allowed(f.inode, 10, 0, R_OK | W_OK)).toBe(true)
      expect(yield* allowed(f.inode, 10, 20, X_OK)).toBe(false) // the owner class decides, not the group
      expect(yield* allowed(f.inode, 11, 20, R_OK | X_OK)).toBe(true)
      expect(yield* allowed(f.inode, 11, 20, W_OK)).toBe(false)
      expect(yield* allowed(f.inode, 11, 21, X_OK)).toBe(true)
      expect(yield* allowed(f.inode, 11, 21, R_OK)).toBe(false)
      expect(yield* allowed(f.inode, 11, 21, 0)).toBe(true)
      expect(yield* allowed(plain.inode, 0, 0, R_OK | W_OK)).toBe(true)
      expect(yield* allowed(plain.inode, 0, 0, X_OK)).toBe(false)
      expect(yield* allowed(f.inode, 0, 0, X_OK)).toBe(true)
      expect(yield* allowed(ROOT_INODE, 0, 0, R_OK | W_OK | X_OK)).toBe(true)
      expect(yield* allowed(ROOT_INODE, 5, 5, W_OK)).toBe(false)
      yield* failsWith("InvalidArgument", md.access(f.inode, 10, 20, 8))
      yield* failsWith("InvalidArgument", md.access(f.inode, 10, 20, -1))
      yield* failsWith("NotFound", md.access(999, 10, 20, R_OK))
    }))

    test("readdir lists in byte order with name cookies; readdirplus adds attributes", Effect.gen(function*() {
      const { md, attrs } = yield* harness
      const dir = yield* attrs(mkdir(ROOT_INODE, "d"))
      const file = yield* attrs(create(ROOT_INODE, "f"))
      for (const name of ["b", "é", "B", "a", "Z", "aa"]) yield* attrs(create(dir.inode, name))
      yield* attrs(mkdir(dir.inode, "sub"))
      const sorted = ["B", "Z", "a", "aa", "b", "sub", "é"]
      const first = yield* md.readdir(dir.inode, null, 3)
      expect(first).toMatchObject({ cookie: "a" })
      expect(first.entries.map((e) => e.name)).toEqual(sorted.slice(0, 3))
      const second = yield* md.readdir(dir.inode, first.cookie, 3)
      expect(second.entries.map((e) => e.name)).toEqual(sorted.slice(3, 6))
      const last = yield* md.readdir(dir.inode, second.cookie, 3)
      expect(last).toEqual({ entries: [{ name: "é", inode: (yield* md.lookup(dir.inode, "é")).inode, type: "file" }], cookie: null })
      // Exactly max entries left: the listing ends without an empty extra page.
      expect((yield* md.readdir(dir.inode, "aa", 3)).cookie).toBeNull()
      const plus = yield* md.readdirplus(dir.inode, null, 100)
      expect(plus.cookie).toBeNull()
      expect(plus.entries.map((e) => e.name)).toEqual(sorted)
      for (const entry of plus.entries) expect(entry.attributes).toEqual(yield* md.getattr(entry.inode))
      expect(plus.entries.find((e) => e.name === "sub")?.type).toBe("directory")
      for (const max of [0, 10_001, 1.5, -3]) yield* failsWith("InvalidArgument", md.readdir(dir.inode, null, max))
      yield* failsWith("InvalidArgument", md.readdirplus(dir.inode, null, 0))
      yield* failsWith("NotADirectory", md.readdir(file.inode, null, 10))
      yield* failsWith("NotFound", md.readdirplus(999, null, 10))
      expect((yield* md.readdir(dir.inode, null, 10_000)).entries).toHaveLength(7)
    }))

    test("readdir paging is exact under concurrent inserts and deletes", Effect.gen(function*() {
      const { md, ok, attrs } = yield* harness
      const dir = yield* attrs(mkdir(ROOT_INODE, "d"))
      const name = (i: number) => `n${String(i).padStart(3, "0")}`
      for (let i = 0; i < 60; i += 2) yield* ok(create(dir.inode, name(i)))
      // Names that exist for the whole listing: multiples of 4. Multiples of 2 not of 4 get deleted.
      const stable = Array.from({ length: 15 }, (_, k) => name(4 * k))
      const seen: Array<string> = []
      let cookie: string | null = null
      let round = 0
      do {
        const page: { readonly entries: ReadonlyArray<{ readonly name: string }>; readonly cookie: string | null } =
          yield* md.readdir(dir.inode, cookie, 4)
        seen.push(...page.entries.map((e) => e.name))
        cookie = page.cookie
        // Between pages: insert odd names on both sides of the cookie, delete one unstable name.
        yield* ok(create(dir.inode, name(2 * round + 1)))
        yield* ok(create(dir.inode, name(59 - 2 * round)))
        yield* ok(unlink(dir.inode, name(4 * round + 2)))
        round++
      } while (cookie !== null)
      expect(new Set(seen).size).toBe(seen.length)
      expect([...seen].sort()).toEqual(seen)
      for (const n of stable) expect(seen.filter((s) => s === n)).toHaveLength(1)
      expect(round).toBeGreaterThan(3)
    }))

    test("chunks and fsstat describe files", Effect.gen(function*() {
      const { md, ok, attrs } = yield* harness
      const dir = yield* attrs(mkdir(ROOT_INODE, "d"))
      const f = yield* attrs(create(dir.inode, "f"))
      const g = yield* attrs(create(dir.inode, "g"))
      yield* ok(commit(f.inode, [[null, chunk(2, "f2", 5)], [null, chunk(0, "f0", CHUNK)]], 2 * CHUNK + 5))
      yield* ok(commit(g.inode, [[null, chunk(0, "g0", 3)]], 3))
      expect((yield* md.chunks(f.inode)).map((c) => c.index)).toEqual([0, 2])
      expect(yield* md.chunks(g.inode)).toEqual([chunk(0, "g0", 3)])
      yield* failsWith("IsADirectory", md.chunks(dir.inode))
      yield* failsWith("NotFound", md.chunks(999))
      expect(yield* md.fsstat).toEqual({ files: 2, directories: 2, bytes: 2 * CHUNK + 8, chunks: 3 })
    }))
  })
}

describe("MetadataService over a damaged store", () => {
  it.scoped("a damaged record is a Corruption error, not a crash", () =>
    Effect.gen(function*() {
      const db = yield* openMemoryLevel
      const md = yield* makeNamespace(makeStore(db, { sync: false }), { chunkSize: CHUNK })
      const file = yield* md.apply(1, { request: null, command: create(ROOT_INODE, "f") })
      expect(file._tag).toBe("Ok")
      yield* Effect.promise(() => db.put(inodeKey(2), Buffer.from([0xc1])))
      yield* failsWith("Corruption", md.getattr(2))
      yield* failsWith("Corruption", md.lookupPath("/f"))
      yield* failsWith("Corruption", md.readdirplus(ROOT_INODE, null, 10))
      yield* Effect.promise(() => db.put(inodeKey(ROOT_INODE), Buffer.from([0x92, 0x01, 0x02])))
      yield* failsWith("Corruption", md.apply(2, { request: null, command: create(ROOT_INODE, "g") }))
      // A failed apply leaves the applied index where it was.
      expect(yield* md.appliedIndex).toBe(1)
    }))
})
