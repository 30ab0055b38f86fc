import { describe, expect, it } from "vitest"
import { formatVersionId, parseVersionId } from "../../src/domain/versionId.ts"
import { VERSION_ID_PATTERN } from "../../src/services/ChunkService.ts"

describe("chunk version ids", () => {
  it("round-trip, stay path-safe, and floor fractional creation times", () => {
    const id = formatVersionId({ inode: 42, index: 7, createdAt: 1_700_000_000_123.75, nonce: "deadbeef" })
    expect(VERSION_ID_PATTERN.test(id)).toBe(true)
    expect(parseVersionId(id)).toEqual({ inode: 42, index: 7, createdAt: 1_700_000_000_123, nonce: "deadbeef" })
    expect(parseVersionId("../etc")).toBeNull()
    expect(parseVersionId("1-2-3")).toBeNull()
  })
})
