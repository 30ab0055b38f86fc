/** Test bytes: deterministic content and fast equality for MiB-sized arrays. */
import { expect } from "vitest"

/** Deterministic pseudo-random bytes (xorshift32), so failures replay. */
export const patternBytes = (length: number, seed: number): Uint8Array => {
  const out = new Uint8Array(length)
  let x = seed >>> 0 || 1
  for (let i = 0; i < length; i++) {
    x ^= x << 13
    x >>>= 0
    x ^= x >>> 17
    x ^= x << 5
    x >>>= 0
    out[i] = x & 0xff
  }
  return out
}

/** Byte equality without vitest's element-by-element diff, which takes seconds per MiB. */
export const expectBytes = (actual: Uint8Array, expected: Uint8Array): void => {
  expect(actual.length).toBe(expected.length)
  expect(Buffer.compare(actual, expected)).toBe(0)
}
