/**
 * The on-disk format of one chunk version, as pure functions (no I/O):
 *
 *   header (24 bytes, little-endian)
 *     u32 magic "SSCK" | u16 format version | u16 reserved (0) | u32 data length
 *     | u32 block size | u32 crc32c(data) | u32 crc32c(the 20 header bytes before it)
 *   block checksum table: one u32 crc32c per block of `block size` bytes (the last may be short)
 *   data
 *
 * A read touches only the header, the table entries of the blocks its range covers, and those
 * blocks; every one of them is verified, so a damaged byte is a `Corruption`, never data.
 */
import { Either } from "effect"
import { Corruption } from "../../src/domain/errors.ts"
import { crc32c, crc32cBlocks } from "../../src/lib/crc32c.ts"

export const CHUNK_FILE_MAGIC = 0x4b435353 // "SSCK" as little-endian bytes
export const CHUNK_FILE_FORMAT_VERSION = 1
export const CHUNK_BLOCK_SIZE = 64 * 1024
export const CHUNK_HEADER_SIZE = 24
/** The data length field is a u32. */
export const MAX_CHUNK_DATA_LENGTH = 0xffffffff

const BLOCK_CRC_SIZE = 4
const HEADER_CRC_OFFSET = 20

export interface ChunkFileHeader {
  readonly dataLength: number
  readonly blockSize: number
  readonly dataCrc: number
}

/** Where things are in a file with this header. */
export const blockCount = (header: ChunkFileHeader): number => Math.ceil(header.dataLength / header.blockSize)
export const tableOffset = CHUNK_HEADER_SIZE
export const dataOffset = (header: ChunkFileHeader): number => CHUNK_HEADER_SIZE + BLOCK_CRC_SIZE * blockCount(header)

const encodeHeader = (header: ChunkFileHeader, into: DataView): void => {
  into.setUint32(0, CHUNK_FILE_MAGIC, true)
  into.setUint16(4, CHUNK_FILE_FORMAT_VERSION, true)
  into.setUint16(6, 0, true)
  into.setUint32(8, header.dataLength, true)
  into.setUint32(12, header.blockSize, true)
  into.setUint32(16, header.dataCrc, true)
  const bytes = new Uint8Array(into.buffer, into.byteOffset, HEADER_CRC_OFFSET)
  into.setUint32(HEADER_CRC_OFFSET, crc32c(bytes), true)
}

/** The checksums of a version's data: of each block (the file's table) and of the whole. */
export interface ChunkChecksums {
  readonly whole: number
  readonly blocks: Uint32Array
}

/** Both, in one pass over the bytes: the whole checksum is combined from the blocks'. */
export const chunkChecksums = (data: Uint8Array): ChunkChecksums => crc32cBlocks(data, CHUNK_BLOCK_SIZE)

/**
 * Everything that precedes the data: header and block checksum table. Written before the data
 * itself, so the data (up to a whole chunk) is never copied. `dataLength` must not exceed
 * MAX_CHUNK_DATA_LENGTH and `checksums` must be chunkChecksums(data); callers check both first.
 */
export const encodeChunkPrefix = (dataLength: number, checksums: ChunkChecksums): Uint8Array => {
  const header: ChunkFileHeader = { dataLength, blockSize: CHUNK_BLOCK_SIZE, dataCrc: checksums.whole }
  const blocks = blockCount(header)
  if (checksums.blocks.length !== blocks) throw new RangeError(`${checksums.blocks.length} block checksums for ${blocks} blocks`)
  const prefix = new Uint8Array(CHUNK_HEADER_SIZE + BLOCK_CRC_SIZE * blocks)
  const view = new DataView(prefix.buffer)
  encodeHeader(header, view)
  for (let block = 0; block < blocks; block++) view.setUint32(tableOffset + BLOCK_CRC_SIZE * block, checksums.blocks[block]!, true)
  return prefix
}

/** The complete file image; for tests and tools (the store writes prefix and data separately). */
export const encodeChunkFile = (data: Uint8Array): Uint8Array => {
  const prefix = encodeChunkPrefix(data.length, chunkChecksums(data))
  const file = new Uint8Array(prefix.length + data.length)
  file.set(prefix, 0)
  file.set(data, prefix.length)
  return file
}

const damaged = (file: string, offset: number, message: string): Corruption =>
  new Corruption({ message: `${message} in ${file} at offset ${offset}`, file, offset })

/** Decode and verify the header (`bytes` is what a read of CHUNK_HEADER_SIZE bytes at 0 returned). */
export const decodeChunkHeader = (bytes: Uint8Array, file: string): Either.Either<ChunkFileHeader, Corruption> => {
  if (bytes.length < CHUNK_HEADER_SIZE) {
    return Either.left(damaged(file, bytes.length, "chunk file header truncated"))
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, CHUNK_HEADER_SIZE)
  if (view.getUint32(0, true) !== CHUNK_FILE_MAGIC) {
    return Either.left(damaged(file, 0, "not a chunk file (bad magic)"))
  }
  if (crc32c(bytes.subarray(0, HEADER_CRC_OFFSET)) !== view.getUint32(HEADER_CRC_OFFSET, true)) {
    return Either.left(damaged(file, 0, "chunk file header checksum mismatch"))
  }
  // The header checksum held, so these are what the writer wrote: a mismatch is a format we do not read.
  const version = view.getUint16(4, true)
  const blockSize = view.getUint32(12, true)
  if (version !== CHUNK_FILE_FORMAT_VERSION || view.getUint16(6, true) !== 0 || blockSize === 0) {
    return Either.left(damaged(file, 4, `unsupported chunk file format (version ${version}, block size ${blockSize})`))
  }
  return Either.right({ dataLength: view.getUint32(8, true), blockSize, dataCrc: view.getUint32(16, true) })
}

/** The blocks a read of `length` bytes at `offset` touches, clamped to the data. */
export interface BlockSpan {
  readonly firstBlock: number
  readonly blockCount: number
  /** File offset and byte length of the span's entries in the checksum table. */
  readonly tableOffset: number
  readonly tableLength: number
  /** File offset and byte length of the span's blocks. */
  readonly blocksOffset: number
  readonly blocksLength: number
  /** The requested bytes, relative to the start of the span's blocks. */
  readonly sliceStart: number
  readonly sliceEnd: number
}

/** `offset` and `length` are non-negative integers (callers check). */
export const blockSpan = (header: ChunkFileHeader, offset: number, length: number): BlockSpan => {
  const start = Math.min(offset, header.dataLength)
  const end = Math.min(start + length, header.dataLength)
  if (start === end) {
    return {
      firstBlock: 0, blockCount: 0, tableOffset, tableLength: 0,
      blocksOffset: dataOffset(header), blocksLength: 0, sliceStart: 0, sliceEnd: 0
    }
  }
  const firstBlock = Math.floor(start / header.blockSize)
  const endBlock = Math.ceil(end / header.blockSize)
  const spanStart = firstBlock * header.blockSize
  const spanEnd = Math.min(endBlock * header.blockSize, header.dataLength)
  return {
    firstBlock,
    blockCount: endBlock - firstBlock,
    tableOffset: tableOffset + BLOCK_CRC_SIZE * firstBlock,
    tableLength: BLOCK_CRC_SIZE * (endBlock - firstBlock),
    blocksOffset: dataOffset(header) + spanStart,
    blocksLength: spanEnd - spanStart,
    sliceStart: start - spanStart,
    sliceEnd: end - spanStart
  }
}

/**
 * Verify the span's blocks against their table entries (`table` and `blocks` are what reads of
 * the span's ranges returned; short reads mean a truncated file) and return the requested bytes.
 */
export const verifyBlocks = (
  header: ChunkFileHeader,
  span: BlockSpan,
  table: Uint8Array,
  blocks: Uint8Array,
  file: string
): Either.Either<Uint8Array, Corruption> => {
  if (table.length < span.tableLength) {
    return Either.left(damaged(file, span.tableOffset + table.length, "chunk file checksum table truncated"))
  }
  if (blocks.length < span.blocksLength) {
    return Either.left(damaged(file, span.blocksOffset + blocks.length, "chunk file data truncated"))
  }
  const tableView = new DataView(table.buffer, table.byteOffset, span.tableLength)
  for (let i = 0; i < span.blockCount; i++) {
    const start = i * header.blockSize
    const block = blocks.subarray(start, Math.min(start + header.blockSize, span.blocksLength))
    if (crc32c(block) !== tableView.getUint32(BLOCK_CRC_SIZE * i, true)) {
      return Either.left(damaged(file, span.blocksOffset + start, `chunk block ${span.firstBlock + i} checksum mismatch`))
    }
  }
  return Either.right(blocks.subarray(span.sliceStart, span.sliceEnd))
}
