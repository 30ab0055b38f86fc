/** What only the disk implementation can get wrong: files, paths, damage, crashes, restarts. */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import * as NodeFs from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { CHUNK_BLOCK_SIZE, CHUNK_HEADER_SIZE, encodeChunkFile } from "../../layers/chunks/chunkFile.ts"
import { ChunkServiceLocalDisk } from "../../layers/chunks/localDisk.ts"
import { crc32c } from "../../src/lib/crc32c.ts"
import { patchedBytes } from "../../layers/chunks/patchFile.ts"
import { ChunkService } from "../../src/services/ChunkService.ts"
import { patternBytes, expectBytes } from "../support/bytes.ts"



/** A temp root holding the store at `root/store` and a bystander file beside it. */
const tempRoot = Effect.acquireRelease(
  Effect.sync(() => {
    const root = NodeFs.mkdtempSync(join(tmpdir(), "sandstore-chunks-disk-"))
    NodeFs.writeFileSync(join(root, "x"), "bystander")
    return { root, store: join(root, "store") }
  }),
  ({ root }) => Effect.sync(() => NodeFs.rmSync(root, { recursive: true, force: true }))
)

/** Every path under `dir` with its kind and exact contents. */
const snapshotTree = (dir: string): Record<string, string> => {
  const out: Record<string, string> = {}
  const walk = (path: string, rel: string): void => {
    for (const entry of NodeFs.readdirSync(path, { withFileTypes: true })) {
      const full = join(path, entry.name)
      const key = rel === "" ? entry.name : `${rel}/${entry.name}`
      if (entry.isDirectory()) {
        out[key] = "<dir>"
        walk(full, key)
      } else {
        out[key] = NodeFs.readFileSync(full).toString("base64")
      }
    }
  }
  walk(dir, "")
  return out
}

const flipByte = (path: string, position: number): void => {
  const fd = NodeFs.openSync(path, "r+")
  try {
    const byte = Buffer.alloc(1)
    NodeFs.readSync(fd, byte, 0, 1, position)
    byte[0] = byte[0]! ^ 0x01
    NodeFs.writeSync(fd, byte, 0, 1, position)
  } finally {
    NodeFs.closeSync(fd)
  }
}

const DATA = patternBytes(3 * CHUNK_BLOCK_SIZE + 1234, 42)
const DATA_OFFSET = CHUNK_HEADER_SIZE + 4 * 4 // four blocks, one crc each

/** Stage `id` as `data` at `offset` over `base` (whose bytes are `baseBytes`); the bytes `id` then holds. */
const stagePatchOver = (id: string, base: string, baseBytes: Uint8Array, offset: number, data: Uint8Array) =>
  Effect.gen(function*() {
    const chunks = yield* ChunkService
    yield* chunks.stagePatch(id, { base, baseChecksum: crc32c(baseBytes), offset, data, checksum: crc32c(data) })
    return patchedBytes(baseBytes, offset, data)
  })

/** v0 (DATA, whole) and v1 (100 bytes at `offset` over it), both committed, then v0 removed: kept for v1. Resolves with v1's bytes. */
const keptBase = (offset = 10) =>
  Effect.gen(function*() {
    const chunks = yield* ChunkService
    yield* chunks.stage("v0", DATA, crc32c(DATA))
    const v1 = yield* stagePatchOver("v1", "v0", DATA, offset, patternBytes(100, 1))
    yield* chunks.commit(["v0", "v1"])
    yield* chunks.remove(["v0"])
    return v1
  })

const filesIn = (dir: string) => NodeFs.readdirSync(dir).sort()

const withStore = <A, E>(store: string, effect: Effect.Effect<A, E, ChunkService>) =>
  Effect.provide(effect, ChunkServiceLocalDisk({ dir: store }))

describe("ChunkServiceLocalDisk", () => {
  it.scoped("unsafe ids leave the whole tree around the store byte-for-byte unchanged", () =>
    Effect.gen(function*() {
      const { root, store } = yield* tempRoot
      const passwdBefore = NodeFs.existsSync("/etc/passwd") ? NodeFs.readFileSync("/etc/passwd", "base64") : null
      yield* withStore(store, Effect.gen(function*() {
        const chunks = yield* ChunkService
        yield* chunks.stage("v1", DATA, crc32c(DATA))
        yield* chunks.stage("v2", DATA, crc32c(DATA))
        yield* chunks.commit(["v2"])
        const before = snapshotTree(root)
        for (const id of ["..", "../x", "a/b", "/etc/passwd", "a\0b", ".", "", "x".repeat(200), "../store/committed/v2"]) {
          const errors = yield* Effect.all([
            Effect.flip(chunks.stage(id, DATA, crc32c(DATA))),
            Effect.flip(chunks.commit([id])),
            Effect.flip(chunks.abort(id)),
            Effect.flip(chunks.remove([id])),
            Effect.flip(chunks.read(id, 0, 10))
          ])
          expect(errors.map((e) => e._tag)).toEqual(Array(5).fill("InvalidArgument"))
        }
        expect(snapshotTree(root)).toEqual(before)
      }))
      expect(NodeFs.existsSync("/etc/passwd") ? NodeFs.readFileSync("/etc/passwd", "base64") : null).toBe(passwdBefore)
    }))

  it.scoped("a checksum mismatch at stage writes nothing at all", () =>
    Effect.gen(function*() {
      const { root, store } = yield* tempRoot
      yield* withStore(store, Effect.gen(function*() {
        const chunks = yield* ChunkService
        const before = snapshotTree(root)
        expect((yield* Effect.flip(chunks.stage("v1", DATA, crc32c(DATA) + 1)))._tag).toBe("InvalidArgument")
        expect(snapshotTree(root)).toEqual(before)
      }))
    }))

  it.scoped("stage leaves exactly staged/<id>; commit moves it to committed/<id>; both survive a reopen", () =>
    Effect.gen(function*() {
      const { store } = yield* tempRoot
      yield* withStore(store, Effect.gen(function*() {
        const chunks = yield* ChunkService
        yield* chunks.stage("v1", DATA, crc32c(DATA))
        yield* chunks.stage("v2", DATA, crc32c(DATA))
        expect(NodeFs.readdirSync(join(store, "staged")).sort()).toEqual(["v1", "v2"])
        yield* chunks.commit(["v2"])
      }))
      expect(NodeFs.readFileSync(join(store, "committed", "v2"))).toEqual(Buffer.from(encodeChunkFile(DATA)))
      yield* withStore(store, Effect.gen(function*() {
        const chunks = yield* ChunkService
        expect(yield* chunks.list).toEqual({ staged: ["v1"], committed: ["v2"] })
        expectBytes(yield* chunks.read("v1", 0, DATA.length), DATA)
        expectBytes(yield* chunks.read("v2", 0, DATA.length), DATA)
      }))
    }))

  it.scoped("every flipped header byte makes a read Corruption naming the file", () =>
    Effect.gen(function*() {
      const { store } = yield* tempRoot
      const file = join(store, "committed", "v1")
      yield* withStore(store, Effect.gen(function*() {
        const chunks = yield* ChunkService
        yield* chunks.stage("v1", DATA, crc32c(DATA))
        yield* chunks.commit(["v1"])
        for (let position = 0; position < CHUNK_HEADER_SIZE; position++) {
          flipByte(file, position)
          const error = yield* Effect.flip(chunks.read("v1", 0, 10))
          expect(error).toMatchObject({ _tag: "Corruption", file, offset: expect.any(Number) })
          flipByte(file, position)
        }
        expectBytes(yield* chunks.read("v1", 0, 10), DATA.subarray(0, 10))
      }))
    }))

  it.scoped("a flipped data byte is Corruption at its block for reads touching that block only", () =>
    Effect.gen(function*() {
      const { store } = yield* tempRoot
      const file = join(store, "committed", "v1")
      yield* withStore(store, Effect.gen(function*() {
        const chunks = yield* ChunkService
        yield* chunks.stage("v1", DATA, crc32c(DATA))
        yield* chunks.commit(["v1"])
        flipByte(file, DATA_OFFSET + 2 * CHUNK_BLOCK_SIZE + 5)
        const corruption = { _tag: "Corruption", file, offset: DATA_OFFSET + 2 * CHUNK_BLOCK_SIZE }
        expect(yield* Effect.flip(chunks.read("v1", 2 * CHUNK_BLOCK_SIZE + 100, 1))).toMatchObject(corruption)
        expect(yield* Effect.flip(chunks.read("v1", 0, DATA.length))).toMatchObject(corruption)
        expect(yield* Effect.flip(chunks.read("v1", 2 * CHUNK_BLOCK_SIZE - 1, 2))).toMatchObject(corruption)
        expectBytes(yield* chunks.read("v1", 0, 2 * CHUNK_BLOCK_SIZE), DATA.subarray(0, 2 * CHUNK_BLOCK_SIZE))
        expectBytes(yield* chunks.read("v1", 3 * CHUNK_BLOCK_SIZE, 100), DATA.subarray(3 * CHUNK_BLOCK_SIZE, 3 * CHUNK_BLOCK_SIZE + 100))
        // An identical re-stage must not paper over the damaged committed copy.
        expect((yield* Effect.flip(chunks.stage("v1", DATA, crc32c(DATA))))._tag).toBe("Corruption")
      }))
    }))

  it.scoped("a flipped block checksum is Corruption for reads of that block; a staged version is checked too", () =>
    Effect.gen(function*() {
      const { store } = yield* tempRoot
      const file = join(store, "staged", "v1")
      yield* withStore(store, Effect.gen(function*() {
        const chunks = yield* ChunkService
        yield* chunks.stage("v1", DATA, crc32c(DATA))
        flipByte(file, CHUNK_HEADER_SIZE + 4 * 1 + 2)
        expect(yield* Effect.flip(chunks.read("v1", CHUNK_BLOCK_SIZE, 10)))
          .toMatchObject({ _tag: "Corruption", file, offset: DATA_OFFSET + CHUNK_BLOCK_SIZE })
        expectBytes(yield* chunks.read("v1", 0, CHUNK_BLOCK_SIZE), DATA.subarray(0, CHUNK_BLOCK_SIZE))
      }))
    }))

  it.scoped("a truncated file is Corruption, not a short read", () =>
    Effect.gen(function*() {
      const { store } = yield* tempRoot
      const file = join(store, "committed", "v1")
      yield* withStore(store, Effect.gen(function*() {
        const chunks = yield* ChunkService
        yield* chunks.stage("v1", DATA, crc32c(DATA))
        yield* chunks.commit(["v1"])
        NodeFs.truncateSync(file, DATA_OFFSET + DATA.length - 10)
        expect(yield* Effect.flip(chunks.read("v1", DATA.length - 20, 20)))
          .toMatchObject({ _tag: "Corruption", file, offset: DATA_OFFSET + DATA.length - 10 })
        NodeFs.truncateSync(file, 10)
        expect(yield* Effect.flip(chunks.read("v1", 0, 1))).toMatchObject({ _tag: "Corruption", file })
      }))
    }))

  it.scoped("opening cleans temp files of an interrupted stage and staged copies of committed versions", () =>
    Effect.gen(function*() {
      const { store } = yield* tempRoot
      const image = encodeChunkFile(DATA)
      NodeFs.mkdirSync(join(store, "staged"), { recursive: true })
      NodeFs.mkdirSync(join(store, "committed"), { recursive: true })
      NodeFs.writeFileSync(join(store, "staged", "v9.tmp-0"), image.subarray(0, 1000))
      NodeFs.writeFileSync(join(store, "staged", "v8.tmp-17"), image)
      NodeFs.writeFileSync(join(store, "staged", "kept"), image)
      NodeFs.writeFileSync(join(store, "staged", "dup"), image)
      NodeFs.writeFileSync(join(store, "committed", "dup"), image)
      yield* withStore(store, Effect.gen(function*() {
        const chunks = yield* ChunkService
        expect(NodeFs.readdirSync(join(store, "staged")).sort()).toEqual(["kept"])
        expect(yield* chunks.list).toEqual({ staged: ["kept"], committed: ["dup"] })
        expect((yield* Effect.flip(chunks.read("v9", 0, 1)))._tag).toBe("NotFound")
        expect((yield* Effect.flip(chunks.read("v8", 0, 1)))._tag).toBe("NotFound")
        // A fresh stage of the interrupted id works and leaves no temp file behind.
        yield* chunks.stage("v9", DATA, crc32c(DATA))
        expect(NodeFs.readdirSync(join(store, "staged")).sort()).toEqual(["kept", "v9"])
      }))
    }))

  it.scoped("disk failures are IoError with the path, never a throw", () =>
    Effect.gen(function*() {
      const { root, store } = yield* tempRoot
      const notADir = join(root, "x")
      const opened = yield* Effect.flip(Effect.provide(ChunkService, ChunkServiceLocalDisk({ dir: notADir })))
      expect(opened).toMatchObject({ _tag: "IoError", path: expect.stringContaining(notADir) })
      // A directory where a version's file should be, found when the store opens.
      NodeFs.mkdirSync(join(store, "committed", "weird"), { recursive: true })
      yield* withStore(store, Effect.gen(function*() {
        const chunks = yield* ChunkService
        expect(yield* Effect.flip(chunks.read("weird", 0, 1)))
          .toMatchObject({ _tag: "IoError", path: join(store, "committed", "weird") })
      }))
    }))

  it.scoped("a patch stores only its bytes; a removed base waits in kept/ until its last patch goes, across a reopen", () =>
    Effect.gen(function*() {
      const { store } = yield* tempRoot
      const written = patternBytes(4096, 3)
      const expected = yield* withStore(store, Effect.gen(function*() {
        const chunks = yield* ChunkService
        yield* chunks.stage("v0", DATA, crc32c(DATA))
        yield* chunks.commit(["v0"])
        const v1 = yield* stagePatchOver("v1", "v0", DATA, 70_000, written)
        const v2 = yield* stagePatchOver("v2", "v1", v1, 1000, written)
        yield* chunks.commit(["v1", "v2"])
        expect(filesIn(join(store, "committed"))).toEqual(["v0", "v1.patch", "v2.patch"])
        // Header, base id, chunk header, one block checksum and the bytes: nothing of the base.
        expect(NodeFs.statSync(join(store, "committed", "v2.patch")).size).toBeLessThan(4096 + 100)
        yield* chunks.remove(["v0", "v1"])
        expect(filesIn(join(store, "kept"))).toEqual(["v0", "v1.patch"])
        expect(yield* chunks.list).toEqual({ staged: [], committed: ["v2"] })
        return v2
      }))
      yield* withStore(store, Effect.gen(function*() {
        const chunks = yield* ChunkService
        expectBytes(yield* chunks.read("v2", 0, DATA.length), expected)
        expect((yield* Effect.flip(chunks.read("v1", 0, 1)))._tag).toBe("NotFound")
        yield* chunks.remove(["v2"])
        expect(filesIn(join(store, "kept"))).toEqual([])
        expect(yield* chunks.list).toEqual({ staged: [], committed: [] })
      }))
    }))

  it.scoped("a removed patch's file is written over as the next version (no new inode), cut to its new length, across a reopen", () =>
    Effect.gen(function*() {
      const { store } = yield* tempRoot
      const large = patternBytes(9000, 5)
      const small = patternBytes(100, 6)
      yield* withStore(store, Effect.gen(function*() {
        const chunks = yield* ChunkService
        yield* chunks.stage("v0", DATA, crc32c(DATA))
        yield* chunks.commit(["v0"])
        yield* stagePatchOver("v1", "v0", DATA, 0, large)
        const inode = NodeFs.statSync(join(store, "staged", "v1.patch")).ino
        yield* chunks.abort("v1")
        expect(filesIn(join(store, "staged"))).toEqual([])
        expect(filesIn(join(store, "free"))).toHaveLength(1)
        const v2 = yield* stagePatchOver("v2", "v0", DATA, 500, small)
        expect(filesIn(join(store, "free"))).toEqual([])
        const file = join(store, "staged", "v2.patch")
        expect(NodeFs.statSync(file).ino).toBe(inode)
        expect(NodeFs.statSync(file).size).toBeLessThan(small.length + 100)
        expectBytes(yield* chunks.read("v2", 0, DATA.length), v2)
        yield* chunks.abort("v2")
      }))
      // The pool outlives the store: a reopened one writes its first patch over the pooled file.
      const pooled = NodeFs.statSync(join(store, "free", filesIn(join(store, "free"))[0]!)).ino
      yield* withStore(store, Effect.gen(function*() {
        expect(yield* (yield* ChunkService).list).toEqual({ staged: [], committed: ["v0"] })
        const v3 = yield* stagePatchOver("v3", "v0", DATA, 7, small)
        expect(NodeFs.statSync(join(store, "staged", "v3.patch")).ino).toBe(pooled)
        expectBytes(yield* (yield* ChunkService).read("v3", 0, DATA.length), v3)
      }))
    }))

  it.scoped("a whole version's file is deleted, not pooled", () =>
    Effect.gen(function*() {
      const { store } = yield* tempRoot
      yield* withStore(store, Effect.gen(function*() {
        const chunks = yield* ChunkService
        yield* chunks.stage("v0", DATA, crc32c(DATA))
        yield* chunks.abort("v0")
        expect(filesIn(join(store, "free"))).toEqual([])
        expect(filesIn(join(store, "staged"))).toEqual([])
      }))
    }))

  it.scoped("kept files whose patches went while the store was down are deleted when it opens", () =>
    Effect.gen(function*() {
      const { store } = yield* tempRoot
      yield* withStore(store, keptBase())
      // As if the patch's removal had reached the disk and the base's had not.
      NodeFs.unlinkSync(join(store, "committed", "v1.patch"))
      yield* withStore(store, Effect.gen(function*() {
        expect(filesIn(join(store, "kept"))).toEqual([])
        expect(yield* (yield* ChunkService).list).toEqual({ staged: [], committed: [] })
      }))
    }))

  it.scoped("when a chain holds as many patch bytes as the version, the next patch is written whole", () =>
    Effect.gen(function*() {
      const { store } = yield* tempRoot
      yield* withStore(store, Effect.gen(function*() {
        const chunks = yield* ChunkService
        const base = DATA.subarray(0, 10_000)
        yield* chunks.stage("v0", base, crc32c(base))
        let bytes: Uint8Array = base
        for (const n of [1, 2, 3]) bytes = yield* stagePatchOver(`v${n}`, `v${n - 1}`, bytes, 1000 * n, patternBytes(4000, n))
        // 4,000 + 4,000 bytes of patches fit in 10,000; 12,000 do not.
        expect(filesIn(join(store, "staged"))).toEqual(["v0", "v1.patch", "v2.patch", "v3"])
        yield* chunks.remove(["v0", "v1", "v2"])
        expect(filesIn(join(store, "kept"))).toEqual([])
        expectBytes(yield* chunks.read("v3", 0, bytes.length), bytes)
      }))
    }))

  it.scoped("a flipped byte in a kept base fails a read of the patch that reads through it, and only that read", () =>
    Effect.gen(function*() {
      const { store } = yield* tempRoot
      yield* withStore(store, Effect.gen(function*() {
        const chunks = yield* ChunkService
        const v1 = yield* keptBase(0)
        flipByte(join(store, "kept", "v0"), DATA_OFFSET + 2 * CHUNK_BLOCK_SIZE + 5)
        expectBytes(yield* chunks.read("v1", 0, CHUNK_BLOCK_SIZE), v1.subarray(0, CHUNK_BLOCK_SIZE))
        const error = yield* Effect.flip(chunks.read("v1", 2 * CHUNK_BLOCK_SIZE, 10))
        expect(error._tag).toBe("Corruption")
        expect(error.message).toContain(join("kept", "v0"))
        // Its own bytes damaged: the same.
        flipByte(join(store, "committed", "v1.patch"), NodeFs.statSync(join(store, "committed", "v1.patch")).size - 1)
        expect((yield* Effect.flip(chunks.read("v1", 0, 10)))._tag).toBe("Corruption")
      }))
    }))

  it.scoped("a repaired patch is one whole file, its base no longer kept; a repair cut short before the patch file went is finished at open", () =>
    Effect.gen(function*() {
      const { store } = yield* tempRoot
      const bytes = yield* withStore(store, Effect.gen(function*() {
        const chunks = yield* ChunkService
        const v1 = yield* keptBase()
        expect(filesIn(join(store, "kept"))).toEqual(["v0"])
        yield* chunks.repair("v1", v1, crc32c(v1))
        expect(filesIn(join(store, "committed"))).toEqual(["v1"])
        expect(filesIn(join(store, "kept"))).toEqual([])
        // As if a second repair had renamed its whole file into place and crashed.
        yield* stagePatchOver("v2", "v1", v1, 0, patternBytes(10, 2))
        yield* chunks.commit(["v2"])
        return v1
      }))
      const v2 = patchedBytes(bytes, 0, patternBytes(10, 2))
      NodeFs.writeFileSync(join(store, "committed", "v2"), encodeChunkFile(v2))
      yield* withStore(store, Effect.gen(function*() {
        expect(filesIn(join(store, "committed"))).toEqual(["v1", "v2"])
        expectBytes(yield* (yield* ChunkService).read("v2", 0, v2.length), v2)
      }))
    }))

  it.scoped("a patch staged on a base being removed either fails NotFound or reads back right, never Corruption", () =>
    Effect.gen(function*() {
      const { store } = yield* tempRoot
      yield* withStore(store, Effect.gen(function*() {
        const chunks = yield* ChunkService
        const small = DATA.subarray(0, 5000)
        for (let n = 0; n < 20; n++) {
          yield* chunks.stage(`u${n}`, small, crc32c(small))
          const v = yield* stagePatchOver(`v${n}`, `u${n}`, small, 100, patternBytes(10, n))
          // An append: the new patch reads nothing of its base's own file while it is written.
          const data = patternBytes(300, 100 + n)
          const [, staged] = yield* Effect.all([
            chunks.remove([`v${n}`]),
            Effect.either(chunks.stagePatch(`w${n}`, { base: `v${n}`, baseChecksum: crc32c(v), offset: v.length, data, checksum: crc32c(data) }))
          ], { concurrency: "unbounded" })
          if (staged._tag === "Left") expect(staged.left._tag).toBe("NotFound")
          else expectBytes(yield* chunks.read(`w${n}`, 0, v.length + 300), patchedBytes(v, v.length, data))
        }
      }))
    }))

  it.scoped("staging a removed version kept for its patches brings the same bytes back; other bytes are refused", () =>
    Effect.gen(function*() {
      const { store } = yield* tempRoot
      yield* withStore(store, Effect.gen(function*() {
        const chunks = yield* ChunkService
        yield* keptBase()
        expect(filesIn(join(store, "kept"))).toEqual(["v0"])
        const other = patternBytes(DATA.length, 9)
        expect((yield* Effect.flip(chunks.stage("v0", other, crc32c(other))))._tag).toBe("InvalidArgument")
        yield* chunks.stage("v0", DATA, crc32c(DATA))
        expect(filesIn(join(store, "kept"))).toEqual([])
        expect(yield* chunks.list).toEqual({ staged: ["v0"], committed: ["v1"] })
        expectBytes(yield* chunks.read("v0", 0, DATA.length), DATA)
      }))
    }))
})
