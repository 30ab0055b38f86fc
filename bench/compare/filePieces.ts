/**
 * The bytes of the large file, piece by piece, without holding the file: every piece is the same
 * pseudo-random block with its index stamped over its first bytes, so a piece read back from the
 * wrong place does not compare equal.
 */
import { patternBytes } from "../../src/lib/patternBytes.ts"

const STAMP_BYTES = 4

export class FilePieces {
  readonly count: number
  private readonly block: Uint8Array

  constructor(readonly fileSize: number, readonly pieceBytes: number, seed: number) {
    this.count = Math.ceil(fileSize / pieceBytes)
    this.block = patternBytes(pieceBytes, seed)
  }

  /** Byte offset of piece `index`. */
  offset(index: number): number {
    return index * this.pieceBytes
  }

  /** Piece `index` (a fresh buffer); the last one may be shorter. */
  piece(index: number): Uint8Array {
    const length = Math.min(this.pieceBytes, this.fileSize - this.offset(index))
    const bytes = this.block.slice(0, length)
    const stamp = new Uint8Array(STAMP_BYTES)
    new DataView(stamp.buffer).setUint32(0, index)
    bytes.set(stamp.subarray(0, Math.min(STAMP_BYTES, length)))
    return bytes
  }

  /** Whether `bytes` are exactly piece `index`. */
  matches(index: number, bytes: Uint8Array): boolean {
    return Buffer.compare(bytes, this.piece(index)) === 0
  }
}
