/** The ChunkService contract, run against every implementation. */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import * as fc from "fast-check"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { CHUNK_BLOCK_SIZE } from "../../layers/chunks/chunkFile.ts"
import { ChunkServiceLocalDisk } from "../../layers/chunks/localDisk.ts"
import { ChunkServiceMemory } from "../../layers/chunks/memory.ts"
import { crc32c } from "../../src/lib/crc32c.ts"
import { patchedBytes } from "../../layers/chunks/patchFile.ts"
import { ChunkService, type ChunkServiceShape } from "../../src/services/ChunkService.ts"
import { patternBytes, expectBytes } from "../support/bytes.ts"



const freshDir = Effect.acquireRelease(
  Effect.sync(() => mkdtempSync(join(tmpdir(), "sandstore-chunks-"))),
  (dir) => Effect.sync(() => rmSync(dir, { recursive: true, force: true }))
)

const implementations = [
  { name: "ChunkServiceMemory", layer: ChunkServiceMemory },
  { name: "ChunkServiceLocalDisk", layer: Layer.unwrapScoped(Effect.map(freshDir, (dir) => ChunkServiceLocalDisk({ dir }))) }
]

const BAD_IDS = ["..", "../x", "a/b", "/etc/passwd", "a\0b", ".", "", "x".repeat(200), "a.tmp-1", "ü"]

const DATA = patternBytes(3 * CHUNK_BLOCK_SIZE + 1234, 42)

/** Stage `id` as `data` laid at `offset` over `base` (whose bytes are `baseBytes`); the expected bytes of `id`, whose checksum the store answered. */
const stagePatchOver = (chunks: ChunkServiceShape, id: string, base: string, baseBytes: Uint8Array, offset: number, data: Uint8Array) =>
  Effect.gen(function*() {
    const checksum = yield* chunks.stagePatch(id, { base, baseChecksum: crc32c(baseBytes), offset, data, checksum: crc32c(data) })
    const bytes = patchedBytes(baseBytes, offset, data)
    expect(checksum).toBe(crc32c(bytes))
    return bytes
  })

for (const impl of implementations) {
  describe(impl.name, () => {
    const run = <A, E>(effect: Effect.Effect<A, E, ChunkService>) => Effect.provide(effect, impl.layer)

    it.effect("reads a staged version, then the committed one, at offsets across block boundaries", () =>
      run(Effect.gen(function*() {
        const chunks = yield* ChunkService
        yield* chunks.stage("v1", DATA, crc32c(DATA))
        expectBytes(yield* chunks.read("v1", CHUNK_BLOCK_SIZE - 3, 10), DATA.subarray(CHUNK_BLOCK_SIZE - 3, CHUNK_BLOCK_SIZE + 7))
        expect(yield* chunks.list).toEqual({ staged: ["v1"], committed: [] })
        yield* chunks.commit(["v1"])
        expect(yield* chunks.list).toEqual({ staged: [], committed: ["v1"] })
        const ranges = fc.sample(
          fc.tuple(fc.integer({ min: 0, max: DATA.length + 10 }), fc.integer({ min: 0, max: 2 * CHUNK_BLOCK_SIZE + 10 })),
          { seed: 1234, numRuns: 40 }
        )
        const edges: Array<[number, number]> = [[0, DATA.length], [CHUNK_BLOCK_SIZE, CHUNK_BLOCK_SIZE], [2 * CHUNK_BLOCK_SIZE - 1, 2], [0, 0]]
        for (const [offset, length] of [...edges, ...ranges]) {
          const start = Math.min(offset, DATA.length)
          expectBytes(yield* chunks.read("v1", offset, length), DATA.subarray(start, Math.min(start + length, DATA.length)))
        }
      })))

    it.effect("a range past the end is short or empty; a negative or fractional range is InvalidArgument", () =>
      run(Effect.gen(function*() {
        const chunks = yield* ChunkService
        yield* chunks.stage("v1", DATA, crc32c(DATA))
        expectBytes(yield* chunks.read("v1", DATA.length - 3, 10), DATA.subarray(DATA.length - 3))
        expect((yield* chunks.read("v1", DATA.length, 10)).length).toBe(0)
        expect((yield* chunks.read("v1", DATA.length + 100_000, 10)).length).toBe(0)
        expectBytes(yield* chunks.read("v1", 5, Number.MAX_SAFE_INTEGER), DATA.subarray(5))
        for (const [offset, length] of [[-1, 5], [0, -1], [0.5, 1], [0, Number.NaN], [Number.POSITIVE_INFINITY, 1]]) {
          expect((yield* Effect.flip(chunks.read("v1", offset!, length!)))._tag).toBe("InvalidArgument")
        }
      })))

    it.effect("an empty version stores and reads back as empty", () =>
      run(Effect.gen(function*() {
        const chunks = yield* ChunkService
        const empty = new Uint8Array(0)
        yield* chunks.stage("empty", empty, crc32c(empty))
        yield* chunks.commit(["empty"])
        expect((yield* chunks.read("empty", 0, 100)).length).toBe(0)
      })))

    it.effect("a checksum mismatch at stage is InvalidArgument and stores nothing", () =>
      run(Effect.gen(function*() {
        const chunks = yield* ChunkService
        const error = yield* Effect.flip(chunks.stage("v1", DATA, crc32c(DATA) ^ 1))
        expect(error._tag).toBe("InvalidArgument")
        expect(yield* chunks.list).toEqual({ staged: [], committed: [] })
        expect((yield* Effect.flip(chunks.read("v1", 0, 1)))._tag).toBe("NotFound")
        expect((yield* Effect.flip(chunks.commit(["v1"])))._tag).toBe("NotFound")
      })))

    it.effect("every operation rejects an unsafe version id with InvalidArgument and changes nothing", () =>
      run(Effect.gen(function*() {
        const chunks = yield* ChunkService
        const small = patternBytes(10, 9)
        yield* chunks.stage("kept", small, crc32c(small))
        yield* chunks.stage("done", small, crc32c(small))
        yield* chunks.commit(["done"])
        for (const id of BAD_IDS) {
          const outcomes = yield* Effect.all([
            Effect.flip(chunks.stage(id, small, crc32c(small))),
            Effect.flip(chunks.commit([id])),
            Effect.flip(chunks.abort(id)),
            Effect.flip(chunks.remove([id])),
            Effect.flip(chunks.read(id, 0, 10))
          ])
          expect(outcomes.map((e) => e._tag)).toEqual(Array(5).fill("InvalidArgument"))
        }
        expect(yield* chunks.list).toEqual({ staged: ["kept"], committed: ["done"] })
        expectBytes(yield* chunks.read("kept", 0, 10), small)
      })))

    it.effect("versions are immutable: identical re-stage succeeds, different bytes are rejected", () =>
      run(Effect.gen(function*() {
        const chunks = yield* ChunkService
        const other = DATA.slice()
        other[CHUNK_BLOCK_SIZE * 2 + 7]! ^= 0x40
        const shorter = DATA.subarray(0, 100)
        yield* chunks.stage("v1", DATA, crc32c(DATA))
        yield* chunks.stage("v1", DATA.slice(), crc32c(DATA))
        expect((yield* Effect.flip(chunks.stage("v1", other, crc32c(other))))._tag).toBe("InvalidArgument")
        expect((yield* Effect.flip(chunks.stage("v1", shorter, crc32c(shorter))))._tag).toBe("InvalidArgument")
        yield* chunks.commit(["v1"])
        yield* chunks.stage("v1", DATA, crc32c(DATA))
        expect(yield* chunks.list).toEqual({ staged: [], committed: ["v1"] })
        expect((yield* Effect.flip(chunks.stage("v1", other, crc32c(other))))._tag).toBe("InvalidArgument")
        expectBytes(yield* chunks.read("v1", 0, DATA.length), DATA)
      })))

    it.effect("a caller changing its buffer after stage or read never changes the stored version", () =>
      run(Effect.gen(function*() {
        const chunks = yield* ChunkService
        const buffer = DATA.slice(0, 1000)
        yield* chunks.stage("v1", buffer, crc32c(buffer))
        buffer.fill(0)
        const first = yield* chunks.read("v1", 0, 1000)
        first.fill(1)
        expectBytes(yield* chunks.read("v1", 0, 1000), DATA.subarray(0, 1000))
      })))

    it.effect("concurrent stages of one id with different bytes: exactly one wins", () =>
      run(Effect.gen(function*() {
        const chunks = yield* ChunkService
        const a = patternBytes(CHUNK_BLOCK_SIZE + 1, 1)
        const b = patternBytes(CHUNK_BLOCK_SIZE + 1, 2)
        const results = yield* Effect.all(
          [Effect.either(chunks.stage("v1", a, crc32c(a))), Effect.either(chunks.stage("v1", b, crc32c(b)))],
          { concurrency: "unbounded" }
        )
        expect(results.map((r) => r._tag).sort()).toEqual(["Left", "Right"])
        const winner = results[0]._tag === "Right" ? a : b
        expectBytes(yield* chunks.read("v1", 0, winner.length), winner)
      })))

    it.effect("commit is idempotent; an unknown or aborted version is NotFound", () =>
      run(Effect.gen(function*() {
        const chunks = yield* ChunkService
        yield* chunks.stage("v1", DATA, crc32c(DATA))
        yield* chunks.commit(["v1"])
        yield* chunks.commit(["v1"])
        expect((yield* Effect.flip(chunks.commit(["nope"])))._tag).toBe("NotFound")
        yield* chunks.stage("v2", DATA, crc32c(DATA))
        yield* chunks.abort("v2")
        expect((yield* Effect.flip(chunks.commit(["v2"])))._tag).toBe("NotFound")
        expect((yield* Effect.flip(chunks.read("v2", 0, 1)))._tag).toBe("NotFound")
      })))

    it.effect("abort is idempotent and never touches a committed version; remove is idempotent and deletes either", () =>
      run(Effect.gen(function*() {
        const chunks = yield* ChunkService
        yield* chunks.stage("staged1", DATA, crc32c(DATA))
        yield* chunks.stage("committed1", DATA, crc32c(DATA))
        yield* chunks.commit(["committed1"])
        yield* chunks.abort("staged1")
        yield* chunks.abort("staged1")
        yield* chunks.abort("committed1")
        yield* chunks.abort("never-existed")
        expect(yield* chunks.list).toEqual({ staged: [], committed: ["committed1"] })
        expectBytes(yield* chunks.read("committed1", 0, 10), DATA.subarray(0, 10))

        yield* chunks.stage("staged2", DATA, crc32c(DATA))
        // A batch with an invalid id deletes nothing.
        expect((yield* Effect.flip(chunks.remove(["staged2", "../committed1"])))._tag).toBe("InvalidArgument")
        expect(yield* chunks.list).toEqual({ staged: ["staged2"], committed: ["committed1"] })
        yield* chunks.remove(["staged2", "committed1"])
        yield* chunks.remove(["committed1", "never-existed"])
        yield* chunks.remove([])
        expect(yield* chunks.list).toEqual({ staged: [], committed: [] })
        expect((yield* Effect.flip(chunks.read("committed1", 0, 1)))._tag).toBe("NotFound")
      })))

    it.effect("commits a batch: every staged one, NotFound naming the missing, nothing at all when an id is invalid", () =>
      run(Effect.gen(function*() {
        const chunks = yield* ChunkService
        const small = patternBytes(100, 5)
        for (const id of ["b1", "b2", "b3"]) yield* chunks.stage(id, small, crc32c(small))
        expect((yield* Effect.flip(chunks.commit(["b1", "../b2"])))._tag).toBe("InvalidArgument")
        expect(yield* chunks.list).toEqual({ staged: ["b1", "b2", "b3"], committed: [] })
        const missing = yield* Effect.flip(chunks.commit(["b1", "gone", "b2", "b1"]))
        expect(missing._tag).toBe("NotFound")
        expect(missing.message).toContain("gone")
        expect(missing.message).not.toContain("b1")
        expect(yield* chunks.list).toEqual({ staged: ["b3"], committed: ["b1", "b2"] })
        yield* chunks.commit(["b3", "b1"])
        yield* chunks.commit([])
        expect(yield* chunks.list).toEqual({ staged: [], committed: ["b1", "b2", "b3"] })
        expectBytes(yield* chunks.read("b2", 0, 100), small)
      })))
  
    it.effect("a patch version reads as its base with the bytes laid over, inside, across the end and past it", () =>
      run(Effect.gen(function*() {
        const chunks = yield* ChunkService
        yield* chunks.stage("base", DATA, crc32c(DATA))
        yield* chunks.commit(["base"])
        const cases: Array<[number, number]> = [[5000, 4096], [CHUNK_BLOCK_SIZE - 2, 4], [DATA.length - 10, 30], [DATA.length, 7], [DATA.length + 5000, 100], [0, 1]]
        for (const [n, [offset, length]] of cases.entries()) {
          const expected = yield* stagePatchOver(chunks, `p${n}`, "base", DATA, offset, patternBytes(length, 100 + n))
          expectBytes(yield* chunks.read(`p${n}`, 0, expected.length + 10), expected)
          for (const [from, size] of [[offset - 3, 10], [offset + length - 2, 5], [0, 100], [expected.length - 50, 100]]) {
            const start = Math.max(0, Math.min(from!, expected.length))
            expectBytes(yield* chunks.read(`p${n}`, start, size!), expected.subarray(start, Math.min(start + size!, expected.length)))
          }
        }
        expect((yield* chunks.list).staged).toEqual(cases.map((_, n) => `p${n}`))
        yield* chunks.commit(["p0"])
        expect((yield* chunks.list).committed).toEqual(["base", "p0"])
      })))

    it.effect("a patch with damaged bytes or over a base that differs is InvalidArgument, one on a missing base NotFound; neither stores anything", () =>
      run(Effect.gen(function*() {
        const chunks = yield* ChunkService
        yield* chunks.stage("base", DATA, crc32c(DATA))
        const data = patternBytes(4096, 7)
        const patch = { base: "base", baseChecksum: crc32c(DATA), offset: 100, data, checksum: crc32c(data) }
        for (const wrong of [{ checksum: patch.checksum ^ 1 }, { baseChecksum: patch.baseChecksum ^ 1 }, { base: "../x" }, { offset: -1 }]) {
          expect((yield* Effect.flip(chunks.stagePatch("p", { ...patch, ...wrong })))._tag).toBe("InvalidArgument")
        }
        expect((yield* Effect.flip(chunks.stagePatch("p", { ...patch, base: "nope" })))._tag).toBe("NotFound")
        expect(yield* chunks.list).toEqual({ staged: ["base"], committed: [] })
        // The same patch again is a no-op answering the same checksum; other bytes under the same id are refused.
        const checksum = yield* chunks.stagePatch("p", patch)
        expect(yield* chunks.stagePatch("p", patch)).toBe(checksum)
        const other = patternBytes(4096, 8)
        expect((yield* Effect.flip(chunks.stagePatch("p", { ...patch, data: other, checksum: crc32c(other) })))._tag).toBe("InvalidArgument")
        expectBytes(yield* chunks.read("p", 100, 4096), data)
      })))

    it.effect("a chain of patches reads right while its older versions are removed, as the collector does, and goes away whole", () =>
      run(Effect.gen(function*() {
        const chunks = yield* ChunkService
        const small = DATA.subarray(0, 300_000)
        yield* chunks.stage("v0", small, crc32c(small))
        yield* chunks.commit(["v0"])
        let bytes: Uint8Array = small
        const writes = fc.sample(fc.tuple(fc.integer({ min: 0, max: 320_000 }), fc.integer({ min: 1, max: 9000 })), { seed: 77, numRuns: 60 })
        for (const [n, [offset, length]] of writes.entries()) {
          bytes = yield* stagePatchOver(chunks, `v${n + 1}`, `v${n}`, bytes, offset, patternBytes(length, n))
          yield* chunks.commit([`v${n + 1}`])
          // The version before the one before is no longer referenced: removed, but still read through.
          if (n >= 1) yield* chunks.remove([`v${n - 1}`])
          expect((yield* Effect.flip(chunks.read(`v${n - 1}`, 0, 1)))._tag).toBe("NotFound")
          const at = Math.max(0, offset - 100)
          expectBytes(yield* chunks.read(`v${n + 1}`, at, length + 200), bytes.subarray(at, Math.min(at + length + 200, bytes.length)))
          // A small range elsewhere: most patches of the chain miss it on its way down to v0.
          const elsewhere = (offset * 7919) % bytes.length
          expectBytes(yield* chunks.read(`v${n + 1}`, elsewhere, 64), bytes.subarray(elsewhere, Math.min(elsewhere + 64, bytes.length)))
        }
        const last = `v${writes.length}`
        expectBytes(yield* chunks.read(last, 0, bytes.length), bytes)
        expect(yield* chunks.list).toEqual({ staged: [], committed: [`v${writes.length - 1}`, last].sort() })
        yield* chunks.remove([`v${writes.length - 1}`, last])
        expect(yield* chunks.list).toEqual({ staged: [], committed: [] })
        expect((yield* Effect.flip(chunks.read(last, 0, 1)))._tag).toBe("NotFound")
      })))
  
    it.effect("repair replaces a stored version's bytes in place; an unknown version is NotFound, bad bytes InvalidArgument", () =>
      run(Effect.gen(function*() {
        const chunks = yield* ChunkService
        const damaged = DATA.slice()
        damaged[5]! ^= 1
        yield* chunks.stage("v1", damaged, crc32c(damaged))
        yield* chunks.commit(["v1"])
        expect((yield* Effect.flip(chunks.repair("v1", DATA, crc32c(DATA) ^ 1)))._tag).toBe("InvalidArgument")
        expectBytes(yield* chunks.read("v1", 0, 10), damaged.subarray(0, 10))
        yield* chunks.repair("v1", DATA, crc32c(DATA))
        expectBytes(yield* chunks.read("v1", 0, DATA.length), DATA)
        expect(yield* chunks.list).toEqual({ staged: [], committed: ["v1"] })
        expect((yield* Effect.flip(chunks.repair("nope", DATA, crc32c(DATA))))._tag).toBe("NotFound")
        // A patch version repaired is whole, and no longer needs its base.
        const bytes = yield* stagePatchOver(chunks, "v2", "v1", DATA, 10, patternBytes(50, 1))
        yield* chunks.repair("v2", bytes, crc32c(bytes))
        yield* chunks.remove(["v1"])
        expectBytes(yield* chunks.read("v2", 0, bytes.length), bytes)
        expect(yield* chunks.list).toEqual({ staged: ["v2"], committed: [] })
      })))
  })
}
