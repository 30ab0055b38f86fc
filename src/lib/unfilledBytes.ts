/**
 * A plain Uint8Array of `length` bytes that is not zero-filled first, for a buffer the caller
 * overwrites before anyone reads it (an 8 MiB chunk read or gathered from a socket). A view of
 * an unpooled Buffer's memory: callers compare and decode plain Uint8Arrays, not Buffers.
 */
export const unfilledBytes = (length: number): Uint8Array => {
  const buffer = Buffer.allocUnsafeSlow(length)
  return new Uint8Array(buffer.buffer, buffer.byteOffset, length)
}
