import { describe, expect, it } from "@effect/vitest"
import { Either } from "effect"
import * as fc from "fast-check"
import {
  blockSpan,
  CHUNK_BLOCK_SIZE,
  CHUNK_HEADER_SIZE,
  decodeChunkHeader,
  encodeChunkFile,
  verifyBlocks
} from "../../layers/chunks/chunkFile.ts"
import { crc32c } from "../../src/lib/crc32c.ts"
import { patternBytes } from "../support/bytes.ts"

const FILE = "/store/committed/v1"


/** Reads a range out of a file image exactly as the disk layer does: header, table slice, block slice. */
const readImage = (image: Uint8Array, offset: number, length: number) =>
  Either.flatMap(decodeChunkHeader(image.subarray(0, CHUNK_HEADER_SIZE), FILE), (header) => {
    const span = blockSpan(header, offset, length)
    if (span.blockCount === 0) return Either.right(new Uint8Array(0))
    return verifyBlocks(
      header,
      span,
      image.subarray(span.tableOffset, span.tableOffset + span.tableLength),
      image.subarray(span.blocksOffset, span.blocksOffset + span.blocksLength),
      FILE
    )
  })

const chunkCase = fc.record({
  length: fc.integer({ min: 0, max: 3 * CHUNK_BLOCK_SIZE + 5000 }),
  seed: fc.integer({ min: 1, max: 0x7fffffff }),
  offset: fc.integer({ min: 0, max: 4 * CHUNK_BLOCK_SIZE }),
  readLength: fc.integer({ min: 0, max: 2 * CHUNK_BLOCK_SIZE + 100 })
})

describe("chunk file format", () => {
  it("lays out header, one crc per 64 KiB block, then the data", () => {
    const data = patternBytes(2 * CHUNK_BLOCK_SIZE + 10, 7)
    const image = encodeChunkFile(data)
    expect(image.length).toBe(CHUNK_HEADER_SIZE + 3 * 4 + data.length)
    const header = decodeChunkHeader(image, FILE)
    expect(header).toEqual(Either.right({ dataLength: data.length, blockSize: CHUNK_BLOCK_SIZE, dataCrc: crc32c(data) }))
    const table = new DataView(image.buffer, CHUNK_HEADER_SIZE, 12)
    expect(table.getUint32(8, true)).toBe(crc32c(data.subarray(2 * CHUNK_BLOCK_SIZE)))
    expect(image.subarray(CHUNK_HEADER_SIZE + 12)).toEqual(data)
  })

  it("a span covers exactly the blocks its range touches, clamped to the data", () => {
    const header = { dataLength: 3 * CHUNK_BLOCK_SIZE + 100, blockSize: CHUNK_BLOCK_SIZE, dataCrc: 0 }
    const span = blockSpan(header, CHUNK_BLOCK_SIZE - 1, 2)
    expect({ first: span.firstBlock, count: span.blockCount, slice: [span.sliceStart, span.sliceEnd] })
      .toEqual({ first: 0, count: 2, slice: [CHUNK_BLOCK_SIZE - 1, CHUNK_BLOCK_SIZE + 1] })
    const tail = blockSpan(header, 3 * CHUNK_BLOCK_SIZE + 50, 1000)
    expect({ first: tail.firstBlock, count: tail.blockCount, length: tail.blocksLength, slice: [tail.sliceStart, tail.sliceEnd] })
      .toEqual({ first: 3, count: 1, length: 100, slice: [50, 100] })
    expect(blockSpan(header, header.dataLength, 10).blockCount).toBe(0)
    expect(blockSpan(header, header.dataLength + 5, 10).blockCount).toBe(0)
  })

  it("any range reads back exactly the bytes it names", () => {
    fc.assert(
      fc.property(chunkCase, ({ length, offset, readLength, seed }) => {
        const data = patternBytes(length, seed)
        const start = Math.min(offset, length)
        const expected = data.subarray(start, Math.min(start + readLength, length))
        expect(readImage(encodeChunkFile(data), offset, readLength)).toEqual(Either.right(expected))
      }),
      { seed: 0x5eed, numRuns: 60 }
    )
  })

  it("a flipped byte fails the read exactly when the read touches it, naming file and offset", () => {
    fc.assert(
      fc.property(
        chunkCase.filter((c) => c.length > 0),
        fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true }),
        fc.integer({ min: 1, max: 255 }),
        ({ length, offset, readLength, seed }, where, mask) => {
          const data = patternBytes(length, seed)
          const image = encodeChunkFile(data)
          const position = Math.floor(where * image.length)
          const damaged = image.slice()
          damaged[position]! ^= mask
          const clean = Either.getOrThrow(decodeChunkHeader(image, FILE))
          const span = blockSpan(clean, offset, readLength)
          const touched = position < CHUNK_HEADER_SIZE ||
            (position >= span.tableOffset && position < span.tableOffset + span.tableLength) ||
            (position >= span.blocksOffset && position < span.blocksOffset + span.blocksLength)
          const result = readImage(damaged, offset, readLength)
          if (touched) {
            const error = Either.flip(result)
            expect(Either.isRight(error)).toBe(true)
            expect(Either.getOrThrow(error)).toMatchObject({ _tag: "Corruption", file: FILE, offset: expect.any(Number) })
          } else {
            expect(result).toEqual(readImage(image, offset, readLength))
          }
        }
      ),
      { seed: 0xc0ffee, numRuns: 200 }
    )
  })

  it("a truncated header, table or data block is Corruption", () => {
    const data = patternBytes(CHUNK_BLOCK_SIZE + 10, 3)
    const image = encodeChunkFile(data)
    expect(Either.isLeft(decodeChunkHeader(image.subarray(0, CHUNK_HEADER_SIZE - 1), FILE))).toBe(true)
    const header = Either.getOrThrow(decodeChunkHeader(image, FILE))
    const span = blockSpan(header, 0, data.length)
    const table = image.subarray(span.tableOffset, span.tableOffset + span.tableLength)
    const blocks = image.subarray(span.blocksOffset, span.blocksOffset + span.blocksLength)
    const shortTable = verifyBlocks(header, span, table.subarray(0, 5), blocks, FILE)
    const shortData = verifyBlocks(header, span, table, blocks.subarray(0, blocks.length - 1), FILE)
    expect(Either.flip(shortTable)).toEqual(Either.right(expect.objectContaining({ offset: span.tableOffset + 5 })))
    expect(Either.flip(shortData)).toEqual(Either.right(expect.objectContaining({ offset: image.length - 1 })))
  })
})
