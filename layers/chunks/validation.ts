/**
 * Argument checks shared by every ChunkService implementation, so they reject exactly the same
 * inputs. They run before any state is touched: a rejected request changes nothing.
 */
import { Effect } from "effect"
import { InvalidArgument } from "../../src/domain/errors.ts"
import { type ChunkPatch, VERSION_ID_PATTERN } from "../../src/services/ChunkService.ts"
import { type ChunkChecksums, chunkChecksums, MAX_CHUNK_DATA_LENGTH } from "./chunkFile.ts"
import { crc32c } from "../../src/lib/crc32c.ts"

/** Only an id matching VERSION_ID_PATTERN may ever become part of a path. */
export const checkVersionId = (versionId: string): Effect.Effect<string, InvalidArgument> =>
  typeof versionId === "string" && VERSION_ID_PATTERN.test(versionId)
    ? Effect.succeed(versionId)
    : Effect.fail(new InvalidArgument({ message: `invalid chunk version id ${JSON.stringify(versionId)}` }))

const isCount = (n: number): boolean => Number.isSafeInteger(n) && n >= 0

export const checkRange = (offset: number, length: number): Effect.Effect<void, InvalidArgument> =>
  isCount(offset) && isCount(length)
    ? Effect.void
    : Effect.fail(new InvalidArgument({ message: `invalid read range (offset ${offset}, length ${length})` }))

/**
 * The bytes must be what the sender checksummed; anything else was damaged on the way. The one
 * pass that verifies them also yields the block checksums a store keeps with them.
 */
export const checkStagedData = (
  versionId: string,
  data: Uint8Array,
  checksum: number
): Effect.Effect<ChunkChecksums, InvalidArgument> => {
  if (data.length > MAX_CHUNK_DATA_LENGTH) {
    return Effect.fail(new InvalidArgument({ message: `chunk version ${versionId} is too large (${data.length} bytes)` }))
  }
  const checksums = chunkChecksums(data)
  return checksums.whole === checksum
    ? Effect.succeed(checksums)
    : Effect.fail(new InvalidArgument({
      message: `checksum mismatch staging chunk version ${versionId}: expected ${checksum}, data has ${checksums.whole}`
    }))
}

/** A patch names a valid base, keeps the version within a chunk file's length, and its bytes are what the sender checksummed. */
export const checkPatch = (versionId: string, patch: ChunkPatch): Effect.Effect<ChunkPatch, InvalidArgument> =>
  Effect.gen(function*() {
    yield* checkVersionId(patch.base)
    if (!isCount(patch.offset) || patch.offset + patch.data.length > MAX_CHUNK_DATA_LENGTH) {
      return yield* new InvalidArgument({
        message: `patch of chunk version ${versionId} at offset ${patch.offset} (${patch.data.length} bytes) is out of range`
      })
    }
    const checksum = crc32c(patch.data)
    if (checksum !== patch.checksum) {
      return yield* new InvalidArgument({
        message: `checksum mismatch staging chunk version ${versionId} as a patch: expected ${patch.checksum}, data has ${checksum}`
      })
    }
    return patch
  })

/** This node's copy of a patch's base is not the sender's. */
export const baseDiffers = (versionId: string, patch: ChunkPatch, actual: number): InvalidArgument =>
  new InvalidArgument({
    message: `cannot stage chunk version ${versionId}: base ${patch.base} has checksum ${actual} here, the sender's ${patch.baseChecksum}`
  })
