import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { decodeSnapshot, SnapshotEncoder } from "../../layers/metadata/snapshotFormat.ts"
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

  it.effect("pages encoded one by one decode to every entry in order, checksummed over slices", () =>
    Effect.gen(function*() {
      const entries = Array.from({ length: 3000 }, (_, i) => entry(i))
      const encoder = new SnapshotEncoder()
      for (let from = 0; from < entries.length; from += 700) encoder.add(entries.slice(from, from + 700))
      encoder.add([])
      const data = yield* encoder.finish
      const decoded = yield* decodeSnapshot(data)
      expect(decoded.map(([key, value]) => [key.toString(), value.length])).toEqual(
        entries.map(([key, value]) => [key.toString(), value.length])
      )
      // One flipped bit anywhere is refused.
      data[1234] = data[1234]! ^ 1
      const damaged = yield* Effect.flip(decodeSnapshot(data))
      expect(damaged.message).toContain("checksum mismatch")
    }))

  it.effect("an empty store encodes to a snapshot with no entries", () =>
    Effect.gen(function*() {
      expect(yield* decodeSnapshot(yield* new SnapshotEncoder().finish)).toEqual([])
    }))
})
