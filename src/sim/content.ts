/**
 * Byte patterns that identify themselves: the workload writes `patternBytes(seed, length)` and a
 * read recovers `{ seed, length }` from the bytes alone. Byte i of pattern `seed` depends only on
 * (seed, i), so a pwrite of `patternBytes(seed, length)` at `offset` puts byte
 * `patternByte(seed, i)` at file position `offset + i`. Seeds are positive 31-bit integers.
 */
import type { Content } from "./history.ts"

/** Byte `i` of pattern `seed`: the seed's 4 bytes (little-endian) first, then a mixed stream. */
export const patternByte = (seed: number, i: number): number => {
  if (i < 4) return (seed >>> (8 * i)) & 0xff
  let h = Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(i, 0xc2b2ae35)
  h = Math.imul(h ^ (h >>> 16), 0x7feb352d)
  h = Math.imul(h ^ (h >>> 15), 0x846ca68b)
  return (h ^ (h >>> 16)) & 0xff
}

export const patternBytes = (seed: number, length: number): Uint8Array => {
  const bytes = new Uint8Array(length)
  for (let i = 0; i < length; i++) bytes[i] = patternByte(seed, i)
  return bytes
}

/** The bytes of a whole-file content (empty for null). */
export const contentBytes = (content: Content): Uint8Array =>
  content === null ? new Uint8Array(0) : patternBytes(content.seed, content.length)

/**
 * The content these bytes are: null when empty, `{ seed, length }` when they are exactly that
 * pattern, undefined otherwise (a mix of writes, zeros of a hole, a torn or foreign write).
 */
export const identifyContent = (bytes: Uint8Array): Content | undefined => {
  if (bytes.length === 0) return null
  if (bytes.length < 4) return undefined
  const seed = (bytes[0]! | (bytes[1]! << 8) | (bytes[2]! << 16) | (bytes[3]! << 24)) >>> 0
  if (seed === 0) return undefined
  for (let i = 4; i < bytes.length; i++) if (bytes[i] !== patternByte(seed, i)) return undefined
  return { seed, length: bytes.length }
}
