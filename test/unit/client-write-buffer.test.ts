import { describe, expect, it } from "@effect/vitest"
import * as fc from "fast-check"
import { pieces, WriteBuffer } from "../../src/client/WriteBuffer.ts"

describe("client write pieces", () => {
  it("cover the range exactly, never cross a chunk boundary, never exceed the limit", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 1 << 26 }),
        fc.integer({ min: 0, max: 1 << 22 }),
        fc.integer({ min: 1 << 12, max: 1 << 23 }),
        fc.integer({ min: 1 << 12, max: 1 << 24 }),
        (offset, length, chunkSize, maxPiece) => {
          const result = pieces(offset, length, chunkSize, maxPiece)
          let at = offset
          for (const piece of result) {
            expect(piece.offset).toBe(at)
            expect(piece.length).toBeGreaterThan(0)
            expect(piece.length).toBeLessThanOrEqual(maxPiece)
            expect(Math.floor(piece.offset / chunkSize)).toBe(Math.floor((piece.offset + piece.length - 1) / chunkSize))
            at += piece.length
          }
          expect(at).toBe(offset + length)
        }
      ),
      { seed: 7, numRuns: 300 }
    )
  })

  it("splits at chunk boundaries", () => {
    const MiB = 1024 * 1024
    expect(pieces(7 * MiB, 2 * MiB, 8 * MiB, 16 * MiB)).toEqual([
      { offset: 7 * MiB, length: MiB },
      { offset: 8 * MiB, length: MiB }
    ])
    expect(pieces(5, 0, 8, 8)).toEqual([])
  })
})

describe("client write buffer", () => {
  it("keeps one contiguous run up to its capacity", () => {
    const buffer = new WriteBuffer(8)
    expect(buffer.fits(100, 9)).toBe(false)
    buffer.append(100, Uint8Array.of(1, 2, 3))
    expect([buffer.offset, buffer.end, buffer.length]).toEqual([100, 103, 3])
    expect(buffer.fits(103, 5)).toBe(true)
    expect(buffer.fits(103, 6)).toBe(false)
    expect(buffer.fits(104, 1)).toBe(false)
    expect(() => buffer.append(50, Uint8Array.of(9))).toThrow(RangeError)
    buffer.append(103, Uint8Array.of(4, 5))
    expect([...buffer.peek(10)]).toEqual([1, 2, 3, 4, 5])
  })

  it("drops acknowledged bytes from the front and keeps the rest", () => {
    const buffer = new WriteBuffer(8)
    buffer.append(10, Uint8Array.of(1, 2, 3, 4, 5))
    const sent = buffer.peek(2)
    buffer.consume(2)
    expect([...sent]).toEqual([1, 2])
    expect([buffer.offset, buffer.length]).toEqual([12, 3])
    expect([...buffer.peek(8)]).toEqual([3, 4, 5])
    buffer.append(15, Uint8Array.of(6))
    expect([...buffer.peek(8)]).toEqual([3, 4, 5, 6])
    buffer.consume(4)
    expect(buffer.isEmpty).toBe(true)
    buffer.append(0, Uint8Array.of(7))
    expect([buffer.offset, ...buffer.peek(8)]).toEqual([0, 7])
  })

  it("hands out copies, so later appends cannot change bytes in flight", () => {
    const buffer = new WriteBuffer(4)
    buffer.append(0, Uint8Array.of(1, 2))
    const inFlight = buffer.peek(2)
    buffer.consume(1)
    buffer.append(2, Uint8Array.of(3))
    expect([...inFlight]).toEqual([1, 2])
  })
})
