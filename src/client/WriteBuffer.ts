/**
 * The write-behind buffer of a file handle: one contiguous run of bytes not yet sent, at most
 * `capacity` long. It only stores; the handle decides when to flush, and drops bytes from the
 * front as pieces are acknowledged, so a failed flush keeps exactly what was not written.
 */

/** The REFERENCE write buffer size. */
export const WRITE_BUFFER_BYTES = 2 * 1024 * 1024

export class WriteBuffer {
  private bytes: Uint8Array | null = null
  private start = 0
  private size = 0

  constructor(readonly capacity: number = WRITE_BUFFER_BYTES) {}

  get isEmpty(): boolean { return this.size === 0 }
  /** file offset of the first buffered byte */
  get offset(): number { return this.start }
  /** file offset just past the last buffered byte */
  get end(): number { return this.start + this.size }
  get length(): number { return this.size }

  /** Whether `length` bytes at `offset` extend the run without overflowing it. */
  fits(offset: number, length: number): boolean {
    return this.size === 0 ? length <= this.capacity : offset === this.end && this.size + length <= this.capacity
  }

  /** Adds bytes; the caller has checked `fits`. */
  append(offset: number, data: Uint8Array): void {
    if (!this.fits(offset, data.length)) throw new RangeError("write buffer: append that does not fit")
    if (this.size === 0) this.start = offset
    this.reserve(this.size + data.length)
    this.bytes!.set(data, this.size)
    this.size += data.length
  }

  /**
   * Room for `needed` bytes. The storage grows by doubling up to the capacity, so a handle that
   * writes a few bytes holds a few bytes, not a whole buffer's worth.
   */
  private reserve(needed: number): void {
    if (this.bytes !== null && this.bytes.length >= needed) return
    let length = Math.max(4096, this.bytes?.length ?? 0)
    while (length < needed) length *= 2
    const grown = new Uint8Array(Math.min(this.capacity, length))
    if (this.bytes !== null) grown.set(this.bytes.subarray(0, this.size))
    this.bytes = grown
  }

  /** A copy of the first `length` buffered bytes (copied: the buffer is reused after a flush). */
  peek(length: number): Uint8Array {
    return this.bytes === null ? new Uint8Array(0) : this.bytes.slice(0, Math.min(length, this.size))
  }

  /** Drops the first `length` bytes, which have been written. */
  consume(length: number): void {
    const n = Math.min(length, this.size)
    if (n < this.size) this.bytes!.copyWithin(0, n, this.size)
    this.start += n
    this.size -= n
  }
}

export interface Piece {
  readonly offset: number
  readonly length: number
}

/**
 * Splits `[offset, offset + length)` into pieces that never cross a multiple of `chunkSize` and
 * are never longer than `maxPiece`, so each Write touches a single chunk.
 */
export const pieces = (offset: number, length: number, chunkSize: number, maxPiece: number): Array<Piece> => {
  const out: Array<Piece> = []
  let at = offset
  const end = offset + length
  while (at < end) {
    const chunkEnd = (Math.floor(at / chunkSize) + 1) * chunkSize
    const next = Math.min(end, chunkEnd, at + maxPiece)
    out.push({ offset: at, length: next - at })
    at = next
  }
  return out
}
