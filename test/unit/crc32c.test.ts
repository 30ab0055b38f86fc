import { describe, expect, it } from "vitest"
import { crc32c, crc32cAfterOverwrite, crc32cBlocks, crc32cCombine, crc32cImplementation, crc32cTable, crc32cZeros } from "../../src/lib/crc32c.ts"
import { makePrng, nextFloat } from "../../src/raft/prng.ts"

const ascii = (text: string) => new TextEncoder().encode(text)

describe("crc32c", () => {
  it("gives the standard check values", () => {
    expect(crc32c(ascii("123456789"))).toBe(0xe3069283)
    expect(crc32cTable(ascii("123456789"))).toBe(0xe3069283)
    expect(crc32c(new Uint8Array(0))).toBe(0)
    // RFC 3720 (iSCSI), B.4: 32 bytes of zeros, and of 0xff.
    expect(crc32c(new Uint8Array(32))).toBe(0x8a9136aa)
    expect(crc32c(new Uint8Array(32).fill(0xff))).toBe(0x62a8ab43)
  })

  it("loads the native implementation on this platform", () => {
    expect(crc32cImplementation).toBe("native")
  })

  it("agrees with the table at every size around the native threshold and beyond, continued or not", () => {
    const prng = makePrng(11, "crc")
    const bytes = new Uint8Array(300_000)
    for (let i = 0; i < bytes.length; i++) bytes[i] = Math.floor(nextFloat(prng) * 256)
    for (const size of [1, 7, 8, 63, 64, 127, 128, 129, 255, 4096, 65_537, 300_000]) {
      const data = bytes.subarray(bytes.length - size)
      expect(crc32c(data)).toBe(crc32cTable(data))
      const cut = Math.floor(size / 3)
      expect(crc32c(data.subarray(cut), crc32c(data.subarray(0, cut)))).toBe(crc32cTable(data))
    }
  })

  it("combines the checksums of two parts into the whole's, at any cut", () => {
    const prng = makePrng(12, "combine")
    const data = new Uint8Array(200_003)
    for (let i = 0; i < data.length; i++) data[i] = Math.floor(nextFloat(prng) * 256)
    for (const cut of [0, 1, 3, 8, 127, 4096, 65_536, 100_000, 200_002, 200_003]) {
      const [a, b] = [data.subarray(0, cut), data.subarray(cut)]
      expect(crc32cCombine(crc32cTable(a), crc32cTable(b), b.length)).toBe(crc32cTable(data))
    }
  })

  it("gives each block's checksum and the whole's in one pass", () => {
    const prng = makePrng(13, "blocks")
    const data = new Uint8Array(3 * 65_536 + 777)
    for (let i = 0; i < data.length; i++) data[i] = Math.floor(nextFloat(prng) * 256)
    for (const size of [data.length, 65_536 * 2, 65_536, 1000]) {
      const { blocks, whole } = crc32cBlocks(data.subarray(0, size), 65_536)
      expect(whole).toBe(crc32cTable(data.subarray(0, size)))
      expect([...blocks]).toEqual(
        Array.from({ length: Math.ceil(size / 65_536) }, (_, k) => crc32cTable(data.subarray(k * 65_536, Math.min(size, (k + 1) * 65_536))))
      )
    }
    expect(crc32cBlocks(new Uint8Array(0), 65_536)).toEqual({ blocks: new Uint32Array(0), whole: 0 })
  })

  it("gives the checksum of any run of zeros", () => {
    for (const length of [0, 1, 2, 3, 31, 32, 4095, 4096, 65_537, 1_000_003]) {
      expect(crc32cZeros(length)).toBe(crc32cTable(new Uint8Array(length)))
    }
  })

  it("gives a version's checksum after an overwrite from the base's checksum and the overwritten bytes only", () => {
    const prng = makePrng(14, "overwrite")
    const random = (n: number) => {
      const bytes = new Uint8Array(n)
      for (let i = 0; i < n; i++) bytes[i] = Math.floor(nextFloat(prng) * 256)
      return bytes
    }
    const base = random(100_000)
    // Inside, at both edges, straddling the end, starting at and past the end, and over an empty base.
    const cases: Array<[number, number, number]> = [
      [100_000, 5000, 4096], [100_000, 0, 1], [100_000, 99_999, 1], [100_000, 98_000, 7000],
      [100_000, 100_000, 10], [100_000, 120_000, 4096], [0, 0, 300], [0, 777, 300], [100_000, 0, 100_000]
    ]
    for (const [baseLength, offset, length] of cases) {
      const before = base.subarray(0, baseLength)
      const written = random(length)
      const after = new Uint8Array(Math.max(baseLength, offset + length))
      after.set(before)
      after.set(written, offset)
      const replaced = before.subarray(Math.min(offset, baseLength), Math.min(offset + length, baseLength))
      expect(crc32cAfterOverwrite(crc32cTable(before), baseLength, offset, replaced, written)).toBe(crc32cTable(after))
    }
  })
})
