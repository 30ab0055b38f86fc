/**
 * ChunkService in memory: the local-disk semantics (validation, immutability, staged then
 * committed, idempotent abort/remove, short reads past the end) without a disk. Bytes are
 * copied in and out so a caller mutating its buffer never changes a stored version.
 */
import { Effect, Layer, Ref } from "effect"
import { InvalidArgument, NotFound } from "../../src/domain/errors.ts"
import { ChunkService, type ChunkServiceShape } from "../../src/services/ChunkService.ts"
import { checkRange, checkStagedData, checkVersionId } from "./validation.ts"
import { sameBytes } from "../../src/lib/sameBytes.ts"

interface Store {
  readonly staged: ReadonlyMap<string, Uint8Array>
  readonly committed: ReadonlyMap<string, Uint8Array>
}

const without = (map: ReadonlyMap<string, Uint8Array>, key: string): ReadonlyMap<string, Uint8Array> => {
  const next = new Map(map)
  next.delete(key)
  return next
}

export const makeChunkServiceMemory: Effect.Effect<ChunkServiceShape> = Effect.gen(function*() {
  const store = yield* Ref.make<Store>({ staged: new Map(), committed: new Map() })

  const stage: ChunkServiceShape["stage"] = (versionId, data, checksum) =>
    Effect.gen(function*() {
      yield* checkVersionId(versionId)
      yield* checkStagedData(versionId, data, checksum)
      const copy = data.slice()
      const accepted = yield* Ref.modify(store, (s): [boolean, Store] => {
        const existing = s.committed.get(versionId) ?? s.staged.get(versionId)
        if (existing !== undefined) return [sameBytes(existing, copy), s]
        return [true, { ...s, staged: new Map(s.staged).set(versionId, copy) }]
      })
      if (!accepted) {
        return yield* new InvalidArgument({ message: `chunk version ${versionId} already exists with different bytes` })
      }
    })

  const commit: ChunkServiceShape["commit"] = (versionId) =>
    Effect.gen(function*() {
      yield* checkVersionId(versionId)
      const found = yield* Ref.modify(store, (s): [boolean, Store] => {
        if (s.committed.has(versionId)) return [true, s]
        const data = s.staged.get(versionId)
        if (data === undefined) return [false, s]
        return [true, { staged: without(s.staged, versionId), committed: new Map(s.committed).set(versionId, data) }]
      })
      if (!found) return yield* new NotFound({ message: `chunk version ${versionId} is neither staged nor committed` })
    })

  const abort: ChunkServiceShape["abort"] = (versionId) =>
    checkVersionId(versionId).pipe(
      Effect.zipRight(Ref.update(store, (s) => ({ ...s, staged: without(s.staged, versionId) })))
    )

  const remove: ChunkServiceShape["remove"] = (versionIds) =>
    Effect.forEach(versionIds, checkVersionId, { discard: true }).pipe(
      Effect.zipRight(Ref.update(store, (s) => {
        const staged = new Map(s.staged)
        const committed = new Map(s.committed)
        for (const versionId of versionIds) {
          staged.delete(versionId)
          committed.delete(versionId)
        }
        return { staged, committed }
      }))
    )

  const read: ChunkServiceShape["read"] = (versionId, offset, length) =>
    Effect.gen(function*() {
      yield* checkVersionId(versionId)
      yield* checkRange(offset, length)
      const s = yield* Ref.get(store)
      const data = s.committed.get(versionId) ?? s.staged.get(versionId)
      if (data === undefined) return yield* new NotFound({ message: `chunk version ${versionId} not found` })
      const start = Math.min(offset, data.length)
      return data.slice(start, Math.min(start + length, data.length))
    })

  const list: ChunkServiceShape["list"] = Ref.get(store).pipe(
    Effect.map((s) => ({ staged: [...s.staged.keys()].sort(), committed: [...s.committed.keys()].sort() }))
  )

  return { stage, commit, abort, read, remove, list }
})

export const ChunkServiceMemory: Layer.Layer<ChunkService> = Layer.effect(ChunkService, makeChunkServiceMemory)
