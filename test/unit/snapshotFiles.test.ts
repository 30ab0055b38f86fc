/** The Raft replicator's snapshot files: what a follower does with the chunks the core hands it. */
import { describe, expect, it } from "@effect/vitest"
import { Context, Effect, Layer } from "effect"
import { makeSnapshotFiles } from "../../layers/replicator/snapshotFiles.ts"
import { makeSimulatedSnapshots } from "../../layers/snapshots/memory.ts"
import type { SnapshotChunk } from "../../src/raft/types.ts"
import { SnapshotStore } from "../../src/services/SnapshotStore.ts"

/** The chunks of a `size`-byte snapshot at (index, term), `chunkBytes` each; the last says whether it is installed. */
const chunksOf = (index: number, term: number, size: number, chunkBytes: number, install: boolean): Array<SnapshotChunk> => {
  const chunks: Array<SnapshotChunk> = []
  for (let offset = 0; offset < size; offset += chunkBytes) {
    const end = Math.min(size, offset + chunkBytes)
    const data = Uint8Array.from({ length: end - offset }, (_, k) => (index + offset + k) & 0xff)
    chunks.push({ index, term, offset, data, totalBytes: size, last: end === size, install: end === size && install })
  }
  return chunks
}

const setUp = Effect.gen(function*() {
  const disk = yield* makeSimulatedSnapshots
  const store = Context.get(yield* Layer.build(disk.layer), SnapshotStore)
  return { disk, store, files: makeSnapshotFiles(store, 4) }
})

describe("snapshot files of a follower", () => {
  it.scoped("a snapshot completed and installed is committed even when the next transfer starts in the same turn", () =>
    Effect.gen(function*() {
      const { disk, files, store } = yield* setUp
      const first = chunksOf(10, 2, 10, 4, true)
      const next = chunksOf(20, 3, 9, 4, true).slice(0, 1)
      yield* files.receive([...first, ...next], true)
      expect(disk.files()).toEqual([{ index: 10, term: 2, size: 10 }])
      const bytes = yield* store.read({ index: 10, term: 2, size: 10 }, 0, 10)
      expect([...bytes]).toEqual(first.flatMap((chunk) => [...chunk.data]))
      expect(files.holdsPartial()).toBe(true)
    }))

  it.scoped("two snapshots installed in one turn are both committed", () =>
    Effect.gen(function*() {
      const { disk, files } = yield* setUp
      yield* files.receive([...chunksOf(10, 2, 6, 4, true), ...chunksOf(20, 2, 5, 4, true)], false)
      expect(disk.files()).toEqual([{ index: 10, term: 2, size: 6 }, { index: 20, term: 2, size: 5 }])
      expect(files.holdsPartial()).toBe(false)
    }))

  it.scoped("a snapshot the core does not install (its log held that state) is dropped, not committed", () =>
    Effect.gen(function*() {
      const { disk, files } = yield* setUp
      yield* files.receive(chunksOf(10, 2, 10, 4, false), false)
      expect(disk.files()).toEqual([])
      expect(files.holdsPartial()).toBe(false)
    }))

  it.scoped("a transfer the core gave up on is dropped; a restart of it begins at offset 0", () =>
    Effect.gen(function*() {
      const { disk, files } = yield* setUp
      const chunks = chunksOf(10, 2, 10, 4, true)
      yield* files.receive(chunks.slice(0, 2), true)
      expect(files.holdsPartial()).toBe(true)
      yield* files.receive([], false)
      expect(files.holdsPartial()).toBe(false)
      yield* files.receive(chunks, false)
      expect(disk.files()).toEqual([{ index: 10, term: 2, size: 10 }])
    }))

  it.scoped("a chunk that does not follow what arrived is a defect, never written into the file", () =>
    Effect.gen(function*() {
      const { disk, files } = yield* setUp
      const chunks = chunksOf(10, 2, 10, 4, true)
      yield* files.receive(chunks.slice(0, 1), true)
      const exit = yield* Effect.exit(files.receive(chunks.slice(2), true))
      expect(exit._tag).toBe("Failure")
      expect(disk.files()).toEqual([])
    }))
})
