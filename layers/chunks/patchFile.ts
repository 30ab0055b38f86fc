/**
 * The on-disk format of a patch version, as pure functions (no I/O). A patch version is an
 * earlier version (its base) with some bytes laid over it, stored as those bytes only:
 *
 *   patch header (little-endian)
 *     u32 magic "SSPT" | u16 format version | u16 base id length
 *     | u32 base length | u32 version length | u32 offset of the patch bytes in the version
 *     | u32 crc32c(version)
 *     | u32 depth (patches from here down to a whole version, this one included)
 *     | u32 chain bytes (patch bytes on that chain, this one included)
 *     | base id (ASCII) | u32 crc32c(the header bytes before it)
 *   the patch bytes as a complete chunk file (chunkFile.ts): header, block checksum table, data
 *
 * The version's bytes: the base's `baseLength` bytes, zeros from there to `length`, the patch
 * bytes at `offset` over both. Depth and chain bytes let a store decide, without reading the chain, when
 * to write a version whole instead.
 */
import { Either } from "effect"
import { Corruption } from "../../src/domain/errors.ts"
import { crc32c } from "../../src/lib/crc32c.ts"
import { VERSION_ID_PATTERN } from "../../src/services/ChunkService.ts"

export const PATCH_FILE_MAGIC = 0x54505353 // "SSPT" as little-endian bytes
export const PATCH_FILE_FORMAT_VERSION = 1
const FIXED_SIZE = 32
const MAX_BASE_ID_LENGTH = 128
/** Enough to hold any patch header: read this much at 0 to decode one. */
export const MAX_PATCH_HEADER_SIZE = FIXED_SIZE + MAX_BASE_ID_LENGTH + 4

export interface PatchHeader {
  readonly base: string
  readonly baseLength: number
  /** Length of the version this patch makes. */
  readonly length: number
  /** Where the patch bytes go in the version. */
  readonly offset: number
  /** crc32c of the whole version. */
  readonly crc: number
  readonly depth: number
  readonly chainBytes: number
}

/** Where the embedded chunk file starts. */
export const patchHeaderSize = (header: PatchHeader): number => FIXED_SIZE + header.base.length + 4

const U32 = 0xffffffff
const isU32 = (n: number): boolean => Number.isInteger(n) && n >= 0 && n <= U32

export const encodePatchHeader = (header: PatchHeader): Uint8Array => {
  if (!VERSION_ID_PATTERN.test(header.base)) throw new RangeError(`invalid base id ${JSON.stringify(header.base)}`)
  for (const field of ["baseLength", "length", "offset", "crc", "depth", "chainBytes"] as const) {
    if (!isU32(header[field])) throw new RangeError(`patch header ${field} ${header[field]} is not a u32`)
  }
  const bytes = new Uint8Array(patchHeaderSize(header))
  const view = new DataView(bytes.buffer)
  view.setUint32(0, PATCH_FILE_MAGIC, true)
  view.setUint16(4, PATCH_FILE_FORMAT_VERSION, true)
  view.setUint16(6, header.base.length, true)
  view.setUint32(8, header.baseLength, true)
  view.setUint32(12, header.length, true)
  view.setUint32(16, header.offset, true)
  view.setUint32(20, header.crc, true)
  view.setUint32(24, header.depth, true)
  view.setUint32(28, header.chainBytes, true)
  for (let i = 0; i < header.base.length; i++) bytes[FIXED_SIZE + i] = header.base.charCodeAt(i)
  const crcAt = FIXED_SIZE + header.base.length
  view.setUint32(crcAt, crc32c(bytes.subarray(0, crcAt)), true)
  return bytes
}

const damaged = (file: string, offset: number, message: string): Corruption =>
  new Corruption({ message: `${message} in ${file} at offset ${offset}`, file, offset })

/** Decode and verify a patch header from the first bytes of a file (a read of MAX_PATCH_HEADER_SIZE at 0, or less at end of file). */
export const decodePatchHeader = (bytes: Uint8Array, file: string): Either.Either<PatchHeader, Corruption> => {
  if (bytes.length < FIXED_SIZE) return Either.left(damaged(file, bytes.length, "patch header truncated"))
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length)
  if (view.getUint32(0, true) !== PATCH_FILE_MAGIC) return Either.left(damaged(file, 0, "not a patch file (bad magic)"))
  const baseIdLength = view.getUint16(6, true)
  const crcAt = FIXED_SIZE + baseIdLength
  if (baseIdLength > MAX_BASE_ID_LENGTH || bytes.length < crcAt + 4) return Either.left(damaged(file, 6, "patch header truncated"))
  if (crc32c(bytes.subarray(0, crcAt)) !== view.getUint32(crcAt, true)) {
    return Either.left(damaged(file, 0, "patch header checksum mismatch"))
  }
  const version = view.getUint16(4, true)
  const base = String.fromCharCode(...bytes.subarray(FIXED_SIZE, crcAt))
  if (version !== PATCH_FILE_FORMAT_VERSION || !VERSION_ID_PATTERN.test(base)) {
    return Either.left(damaged(file, 4, `unsupported patch file (version ${version}, base ${JSON.stringify(base)})`))
  }
  return Either.right({
    base,
    baseLength: view.getUint32(8, true),
    length: view.getUint32(12, true),
    offset: view.getUint32(16, true),
    crc: view.getUint32(20, true),
    depth: view.getUint32(24, true),
    chainBytes: view.getUint32(28, true)
  })
}

/** A patch's version in memory: `base`, zero-extended to the new length, `data` at `offset`. */
export const patchedBytes = (base: Uint8Array, offset: number, data: Uint8Array): Uint8Array => {
  const bytes = new Uint8Array(Math.max(base.length, offset + data.length))
  bytes.set(base)
  bytes.set(data, offset)
  return bytes
}
