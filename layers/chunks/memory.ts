/**
 * ChunkService in memory: the local-disk semantics (validation, immutability, staged then
 * committed, idempotent abort/remove, short reads past the end) without a disk. Bytes are
 * copied in and out so a caller mutating its buffer never changes a stored version.
 */
import { Effect, Layer } from "effect"
import { InvalidArgument, NotFound } from "../../src/domain/errors.ts"
import { ChunkService, type ChunkServiceShape } from "../../src/services/ChunkService.ts"
import { baseDiffers, checkPatch, checkRange, checkStagedData, checkVersionId } from "./validation.ts"
import { patchedBytes } from "./patchFile.ts"
import { crc32c } from "../../src/lib/crc32c.ts"
import { sameBytes } from "../../src/lib/sameBytes.ts"

export const makeChunkServiceMemory: Effect.Effect<ChunkServiceShape> = Effect.sync(() => {
  // Plain maps, changed in place: every operation is synchronous, so none sees another half done.
  const staged = new Map<string, Uint8Array>()
  const committed = new Map<string, Uint8Array>()

  /** Store `data` (which the caller no longer changes) as staged, unless the version exists. */
  const keep = (versionId: string, data: Uint8Array) =>
    Effect.gen(function*() {
      const existing = committed.get(versionId) ?? staged.get(versionId)
      if (existing === undefined) staged.set(versionId, data)
      else if (!sameBytes(existing, data)) {
        return yield* new InvalidArgument({ message: `chunk version ${versionId} already exists with different bytes` })
      }
    })

  const stage: ChunkServiceShape["stage"] = (versionId, data, checksum) =>
    Effect.gen(function*() {
      yield* checkVersionId(versionId)
      yield* checkStagedData(versionId, data, checksum)
      yield* keep(versionId, data.slice())
    })

  // Kept whole: memory has no disk writes to save.
  const stagePatch: ChunkServiceShape["stagePatch"] = (versionId, patch) =>
    Effect.gen(function*() {
      yield* checkVersionId(versionId)
      yield* checkPatch(versionId, patch)
      const base = committed.get(patch.base) ?? staged.get(patch.base)
      if (base === undefined) return yield* new NotFound({ message: `base chunk version ${patch.base} not found` })
      const baseChecksum = crc32c(base)
      if (baseChecksum !== patch.baseChecksum) return yield* baseDiffers(versionId, patch, baseChecksum)
      const data = patchedBytes(base, patch.offset, patch.data)
      yield* keep(versionId, data)
      return crc32c(data)
    })

  const repair: ChunkServiceShape["repair"] = (versionId, data, checksum) =>
    Effect.gen(function*() {
      yield* checkVersionId(versionId)
      yield* checkStagedData(versionId, data, checksum)
      const place = committed.has(versionId) ? committed : staged.has(versionId) ? staged : undefined
      if (place === undefined) return yield* new NotFound({ message: `chunk version ${versionId} not found` })
      place.set(versionId, data.slice())
    })

  const commit: ChunkServiceShape["commit"] = (versionIds) =>
    Effect.gen(function*() {
      for (const versionId of versionIds) yield* checkVersionId(versionId)
      const missing: Array<string> = []
      for (const versionId of versionIds) {
        const data = staged.get(versionId)
        if (data !== undefined) {
          staged.delete(versionId)
          committed.set(versionId, data)
        } else if (!committed.has(versionId)) missing.push(versionId)
      }
      if (missing.length > 0) {
        return yield* new NotFound({ message: `chunk versions neither staged nor committed: ${missing.join(", ")}` })
      }
    })

  const abort: ChunkServiceShape["abort"] = (versionId) =>
    Effect.map(checkVersionId(versionId), () => void staged.delete(versionId))

  const remove: ChunkServiceShape["remove"] = (versionIds) =>
    Effect.gen(function*() {
      for (const versionId of versionIds) yield* checkVersionId(versionId)
      for (const versionId of versionIds) {
        staged.delete(versionId)
        committed.delete(versionId)
      }
    })

  const read: ChunkServiceShape["read"] = (versionId, offset, length) =>
    Effect.gen(function*() {
      yield* checkVersionId(versionId)
      yield* checkRange(offset, length)
      const data = committed.get(versionId) ?? staged.get(versionId)
      if (data === undefined) return yield* new NotFound({ message: `chunk version ${versionId} not found` })
      const start = Math.min(offset, data.length)
      return data.slice(start, Math.min(start + length, data.length))
    })

  const list: ChunkServiceShape["list"] = Effect.sync(() => ({ staged: [...staged.keys()].sort(), committed: [...committed.keys()].sort() }))

  return { stage, stagePatch, repair, commit, abort, read, remove, list }
})

export const ChunkServiceMemory: Layer.Layer<ChunkService> = Layer.effect(ChunkService, makeChunkServiceMemory)
