import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { readSnapshot, startSnapshot } from "../../layers/metadata/snapshotFormat.ts"
import { bytesSource } from "../../src/services/MetadataService.ts"
import { compactionDue, compactionPoint } from "../../layers/replicator/snapshotPolicy.ts"

describe("compaction policy", () => {
  const policy = { threshold: 100, catchUpEntries: 30 }

  it("is due every threshold applied entries", () => {
    expect(compactionDue(policy, 99, 0)).toBe(false)
    expect(compactionDue(policy, 100, 0)).toBe(true)
    expect(compactionDue(policy, 199, 100)).toBe(false)
    expect(compactionDue(policy, 200, 100)).toBe(true)
  })

  it("keeps the catch-up margin behind the applied index, never below the start", () => {
    expect(compactionPoint(policy, 100)).toBe(70)
    expect(compactionPoint(policy, 10)).toBe(0)
  })
})

describe("snapshot encoder", () => {
  const entry = (i: number): readonly [Buffer, Buffer] =>
    [Buffer.from(`key-${String(i).padStart(6, "0")}`), Buffer.alloc(i % 50, i % 256)]

  /** Encode `pages` one after another: the bytes written and the number of writes. */
  const encode = (pages: ReadonlyArray<ReadonlyArray<readonly [Buffer, Buffer]>>) =>
    Effect.gen(function*() {
      const written: Array<Buffer> = []
      const encoder = yield* startSnapshot((bytes) => Effect.sync(() => void written.push(Buffer.from(bytes))))
      for (const page of pages) yield* encoder.add(page)
      const size = yield* encoder.finish
      const data = Buffer.concat(written)
      expect(data.length).toBe(size)
      return { data, writes: written.length }
    })

  const decode = (data: Uint8Array, rangeBytes?: number) =>
    Effect.gen(function*() {
      const entries: Array<[string, number]> = []
      const count = yield* readSnapshot(bytesSource(data), (page) =>
        Effect.sync(() => {
          for (const [key, value] of page) entries.push([key.toString(), value.length])
        }), rangeBytes)
      expect(count).toBe(entries.length)
      return entries
    })

  it.effect("pages encoded one by one decode to every entry in order, whatever the read ranges", () =>
    Effect.gen(function*() {
      const entries = Array.from({ length: 3000 }, (_, i) => entry(i))
      const pages = Array.from({ length: 5 }, (_, p) => entries.slice(p * 700, (p + 1) * 700))
      const { data, writes } = yield* encode([...pages, []])
      // The header, one write per non-empty page, the trailer.
      expect(writes).toBe(2 + pages.length)
      const expected = entries.map(([key, value]): [string, number] => [key.toString(), value.length])
      for (const range of [undefined, 1, 7, 1000]) expect(yield* decode(data, range)).toEqual(expected)
      // One flipped bit anywhere is refused.
      data[1234] = data[1234]! ^ 1
      const damaged = yield* Effect.flip(decode(data))
      expect(damaged.message).toMatch(/^metadata snapshot: /)
    }))

  it.effect("an empty store encodes to a snapshot with no entries", () =>
    Effect.gen(function*() {
      const { data } = yield* encode([])
      expect(data.length).toBe(16)
      expect(yield* decode(data, 3)).toEqual([])
    }))
})
