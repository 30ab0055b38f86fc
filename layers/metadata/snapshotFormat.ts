/**
 * Byte format of a metadata snapshot: every key/value pair of the store in strictly increasing
 * key order, framed and checksummed, so equal states are equal bytes and a damaged snapshot is
 * refused whole. It is written front to back and read back by ranges, so it is never whole in
 * memory; hence the entry count and the checksum come last:
 *
 *   "SSMETA02" | entries × (u32 keyLength | key | u32 valueLength | value) | u32 count | u32 crc32c
 *
 * The entries end where the 8-byte trailer begins; the checksum covers everything before it.
 * Earlier versions wrote "SSMETA01" | u32 count | entries | u32 crc32c, the count first, which
 * needs the whole store encoded before the first byte is written; such snapshots, kept inside
 * old write-ahead logs, are still read.
 */
import { Effect } from "effect"
import { Corruption, type IoError } from "../../src/domain/errors.ts"
import { crc32c } from "../../src/lib/crc32c.ts"
import type { SnapshotSource } from "../../src/services/MetadataService.ts"

const MAGIC = Buffer.from("SSMETA02", "latin1")
/** u32 count | u32 crc32c */
const TRAILER = 8
const MAGIC_V1 = Buffer.from("SSMETA01", "latin1")
/** The smallest snapshot of either version: no entries. */
const EMPTY_SIZE = MAGIC.length + TRAILER

/** Bytes read from a source at a time. */
export const READ_RANGE = 4 * 1024 * 1024
/** Most entries decoded between two yields (and handed over at once) while a snapshot is read. */
const DECODE_STEP = 4096

export type SnapshotEntry = readonly [key: Buffer, value: Buffer]

/** Writes a snapshot through `write`, page by page, checksumming as it goes. */
export interface SnapshotEncoder {
  /** Write entries that follow every entry added so far in key order, as one buffer (none: nothing). */
  readonly add: (entries: ReadonlyArray<SnapshotEntry>) => Effect.Effect<void, IoError>
  /** Write the trailer; the snapshot's size in bytes. Nothing may be added afterwards. */
  readonly finish: Effect.Effect<number, IoError>
}

/**
 * Start a snapshot by writing its header through `write`. Every buffer handed to `write` is
 * a fresh one, never touched again by the encoder (a writer may keep it until it returns).
 */
export const startSnapshot = (
  write: (bytes: Uint8Array) => Effect.Effect<void, IoError>
): Effect.Effect<SnapshotEncoder, IoError> => {
  let crc = 0
  let count = 0
  let size = 0
  const emit = (bytes: Buffer) =>
    Effect.suspend(() => {
      crc = crc32c(bytes, crc)
      size += bytes.length
      return write(bytes)
    })
  const add = (entries: ReadonlyArray<SnapshotEntry>) =>
    Effect.suspend(() => {
      if (entries.length === 0) return Effect.void
      let length = 0
      for (const [key, value] of entries) length += 8 + key.length + value.length
      const page = Buffer.allocUnsafe(length)
      let at = 0
      for (const [key, value] of entries) {
        at = page.writeUInt32BE(key.length, at)
        at += key.copy(page, at)
        at = page.writeUInt32BE(value.length, at)
        at += value.copy(page, at)
      }
      count += entries.length
      return emit(page)
    })
  const finish = Effect.suspend(() => {
    const trailer = Buffer.allocUnsafe(TRAILER)
    trailer.writeUInt32BE(count, 0)
    // The checksum covers the count too, so it is taken over the count before it is written.
    crc = crc32c(trailer.subarray(0, 4), crc)
    trailer.writeUInt32BE(crc, 4)
    size += TRAILER
    return Effect.as(write(trailer), size)
  })
  return Effect.as(emit(Buffer.from(MAGIC)), { add, finish })
}

const corrupt = (message: string) => Effect.fail(new Corruption({ message: `metadata snapshot: ${message}` }))

const asBuffer = (bytes: Uint8Array): Buffer =>
  Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)

/**
 * Read the snapshot in `source` front to back, `rangeBytes` at a time, checking its framing and
 * key order as it goes and its entry count and checksum at the end; the number of entries.
 * `onEntries` is handed the entries in order, a few thousand at a time, as views of the bytes
 * read: copy what must outlive the call. An entry cut by the end of a range is carried over and
 * comes with the next. Fails with Corruption ("metadata snapshot: ..."), the source's IoError or
 * what `onEntries` fails with; the checksum is known only at the end, so entries handed over
 * before a failure are not vouched for.
 */
export const readSnapshot = <E, R>(
  source: SnapshotSource,
  onEntries: (entries: ReadonlyArray<SnapshotEntry>) => Effect.Effect<void, E, R>,
  rangeBytes: number = READ_RANGE
): Effect.Effect<number, Corruption | IoError | E, R> =>
  Effect.gen(function*() {
    const size = source.size
    if (!Number.isSafeInteger(size) || size < EMPTY_SIZE) return yield* corrupt(`too short (${size} bytes)`)
    const crcEnd = size - 4
    // Where the entries end, and the count a version 1 header gives; known once the header is read.
    let entriesEnd = -1
    let declaredCount: number | undefined
    let crc = 0
    let count = 0
    let previous: Buffer | undefined
    let offset = 0 // bytes read so far
    // Bytes read and not decoded yet (the header, an entry cut by a range's end, the trailer), from offset `start`.
    let rest: Buffer = Buffer.alloc(0)
    let start = 0
    while (offset < size) {
      const want = Math.min(rangeBytes, size - offset)
      const read = asBuffer(yield* source.read(offset, want)).subarray(0, want)
      if (read.length === 0) return yield* corrupt(`the source ends at byte ${offset} of ${size}`)
      if (offset < crcEnd) crc = crc32c(read.subarray(0, crcEnd - offset), crc)
      offset += read.length
      const bytes = rest.length === 0 ? read : Buffer.concat([rest, read])
      let at = 0 // into `bytes`, which starts at `start`
      if (entriesEnd < 0) {
        if (bytes.length < MAGIC.length) {
          rest = bytes
          continue
        }
        const magic = bytes.subarray(0, MAGIC.length)
        if (magic.equals(MAGIC)) {
          entriesEnd = size - TRAILER
          at = MAGIC.length
        } else if (magic.equals(MAGIC_V1)) {
          if (bytes.length < MAGIC_V1.length + 4) {
            rest = bytes
            continue
          }
          declaredCount = bytes.readUInt32BE(MAGIC_V1.length)
          entriesEnd = crcEnd
          at = MAGIC_V1.length + 4
        } else {
          return yield* corrupt("bad magic")
        }
      }
      let stepFull = true
      while (stepFull) {
        const entries: Array<SnapshotEntry> = []
        // Lengths are checked against the end of the entries before waiting for more bytes, so a
        // damaged length fails here instead of reading on.
        while (entries.length < DECODE_STEP && start + at < entriesEnd) {
          const position = start + at
          const available = bytes.length - at
          if (position + 4 > entriesEnd) return yield* corrupt(`entry ${count} overruns the entries at byte ${position}`)
          if (available < 4) break
          const keyLength = bytes.readUInt32BE(at)
          if (position + 8 + keyLength > entriesEnd) return yield* corrupt(`entry ${count} overruns the entries at byte ${position}`)
          if (available < 8 + keyLength) break
          const length = 8 + keyLength + bytes.readUInt32BE(at + 4 + keyLength)
          if (position + length > entriesEnd) return yield* corrupt(`entry ${count} overruns the entries at byte ${position}`)
          if (available < length) break
          const key = bytes.subarray(at + 4, at + 4 + keyLength)
          if (previous !== undefined && Buffer.compare(previous, key) >= 0) {
            return yield* corrupt(`entry ${count} is out of key order`)
          }
          entries.push([key, bytes.subarray(at + 8 + keyLength, at + length)])
          previous = key
          count++
          at += length
        }
        stepFull = entries.length === DECODE_STEP
        if (entries.length > 0) yield* onEntries(entries)
        yield* Effect.yieldNow()
      }
      rest = bytes.subarray(at)
      start += at
      // The last key is compared with the next range's first: a copy, not the source's bytes.
      if (previous !== undefined) previous = Buffer.from(previous)
    }
    // Every byte is read and every entry decoded: what is left is the trailer.
    if (start !== entriesEnd || rest.length !== size - entriesEnd) return yield* corrupt(`malformed trailer at byte ${start}`)
    if (rest.readUInt32BE(rest.length - 4) !== crc) return yield* corrupt("checksum mismatch")
    const expected = declaredCount ?? rest.readUInt32BE(0)
    if (expected !== count) return yield* corrupt(`${count} entries where ${expected} were declared`)
    return count
  })
