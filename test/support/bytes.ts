/** Test bytes: deterministic content and fast equality for MiB-sized arrays. */
import { expect } from "vitest"

export { patternBytes } from "../../src/lib/patternBytes.ts"

/** Byte equality without vitest's element-by-element diff, which takes seconds per MiB. */
export const expectBytes = (actual: Uint8Array, expected: Uint8Array): void => {
  expect(actual.length).toBe(expected.length)
  expect(Buffer.compare(actual, expected)).toBe(0)
}
