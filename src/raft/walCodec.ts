/**
 * The byte format of write-ahead log segments, as pure functions. A record is
 * `u32 length | u32 crc32c | u8 type | payload` (little-endian), where `length` counts the
 * payload and the crc covers length, type and payload, so a damaged length is caught too.
 *
 * Decoding tells a torn tail from corruption. Only the last segment can end in a torn tail:
 * a crash mid-append leaves a cut-short record, zeros, or one bad record with nothing valid
 * after it, and recovery keeps the records before it. A bad record that valid data follows,
 * or any damage in an older segment, cannot come from a crash mid-append: it is `Corruption`
 * naming the file and the record's offset. A record whose crc failed is never returned.
 */
import { Either } from "effect"
import { Corruption } from "../domain/errors.ts"
import { crc32c } from "../lib/crc32c.ts"
import type { WalRecord } from "../services/WriteAheadLog.ts"

/** Bytes before the payload: length, crc, type. */
export const RECORD_HEADER_BYTES = 9

/** Largest payload a u32 length can describe. */
export const MAX_PAYLOAD_BYTES = 0xffffffff

/**
 * Type 0 is never written, so a zero-filled region (a file extended but not written before
 * a crash) can never parse as a record.
 */
export const isWritableType = (type: number): boolean => Number.isInteger(type) && type >= 1 && type <= 0xff

/** Bytes `record` takes in a segment. */
export const encodedSize = (record: WalRecord): number => RECORD_HEADER_BYTES + record.payload.length

const checksum = (bytes: Uint8Array, offset: number, payloadLength: number): number => {
  const lengthBytes = bytes.subarray(offset, offset + 4)
  const typeAndPayload = bytes.subarray(offset + 8, offset + RECORD_HEADER_BYTES + payloadLength)
  return crc32c(typeAndPayload, crc32c(lengthBytes))
}

/** Write `record` into `target` at `offset`; returns the offset after it. */
const writeRecord = (target: Uint8Array, offset: number, record: WalRecord): number => {
  if (!isWritableType(record.type)) throw new RangeError(`WAL record type ${record.type} is outside 1..255`)
  if (record.payload.length > MAX_PAYLOAD_BYTES) throw new RangeError("WAL record payload exceeds 4 GiB")
  const view = new DataView(target.buffer, target.byteOffset, target.byteLength)
  view.setUint32(offset, record.payload.length, true)
  target[offset + 8] = record.type
  target.set(record.payload, offset + RECORD_HEADER_BYTES)
  view.setUint32(offset + 4, checksum(target, offset, record.payload.length), true)
  return offset + RECORD_HEADER_BYTES + record.payload.length
}

/** The bytes of `records`, back to back. Throws RangeError for a type outside 1..255 (a caller bug). */
export const encodeRecords = (records: ReadonlyArray<WalRecord>): Uint8Array => {
  let size = 0
  for (const record of records) size += encodedSize(record)
  const bytes = new Uint8Array(size)
  let offset = 0
  for (const record of records) offset = writeRecord(bytes, offset, record)
  return bytes
}

export const encodeRecord = (record: WalRecord): Uint8Array => encodeRecords([record])

/** The outcome of decoding one segment. */
export interface DecodedSegment {
  readonly records: ReadonlyArray<WalRecord>
  /** Bytes of complete, valid records; a torn tail starts here and recovery truncates to it. */
  readonly validLength: number
}

type RecordAt =
  | { readonly _tag: "Valid"; readonly record: WalRecord; readonly end: number }
  | { readonly _tag: "Invalid"; readonly reason: string }

const readRecordAt = (bytes: Uint8Array, view: DataView, offset: number): RecordAt => {
  if (bytes.length - offset < RECORD_HEADER_BYTES) return { _tag: "Invalid", reason: "header cut short" }
  const length = view.getUint32(offset, true)
  const end = offset + RECORD_HEADER_BYTES + length
  if (end > bytes.length) return { _tag: "Invalid", reason: "record extends past the end of the file" }
  const type = bytes[offset + 8]!
  if (type === 0) return { _tag: "Invalid", reason: "record type 0" }
  if (view.getUint32(offset + 4, true) !== checksum(bytes, offset, length)) {
    return { _tag: "Invalid", reason: "checksum mismatch" }
  }
  return { _tag: "Valid", record: { type, payload: bytes.subarray(offset + RECORD_HEADER_BYTES, end) }, end }
}

const isZeroFrom = (bytes: Uint8Array, offset: number): boolean => {
  for (let i = offset; i < bytes.length; i++) if (bytes[i] !== 0) return false
  return true
}

/** Whether any offset after `offset` starts a valid record: the sign of damage, not a torn write. */
const validRecordAfter = (bytes: Uint8Array, view: DataView, offset: number): boolean => {
  for (let at = offset + 1; at + RECORD_HEADER_BYTES <= bytes.length; at++) {
    // Cheap rejections first: most offsets claim a length past the end of the file.
    if (at + RECORD_HEADER_BYTES + view.getUint32(at, true) > bytes.length || bytes[at + 8] === 0) continue
    if (readRecordAt(bytes, view, at)._tag === "Valid") return true
  }
  return false
}

/**
 * Decode one segment file's bytes. `fileName` names the file in a `Corruption`;
 * `isLastSegment` allows a torn tail (see the module comment).
 */
export const decodeSegment = (
  bytes: Uint8Array,
  fileName: string,
  isLastSegment: boolean
): Either.Either<DecodedSegment, Corruption> => {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const records: Array<WalRecord> = []
  let offset = 0
  while (offset < bytes.length) {
    const next = readRecordAt(bytes, view, offset)
    if (next._tag === "Valid") {
      records.push(next.record)
      offset = next.end
      continue
    }
    const torn = isLastSegment && (isZeroFrom(bytes, offset) || !validRecordAfter(bytes, view, offset))
    if (torn) return Either.right({ records, validLength: offset })
    return Either.left(
      new Corruption({
        message: `WAL segment ${fileName} is damaged at offset ${offset} (${next.reason})` +
          (isLastSegment ? ", and valid records follow it" : " before its end"),
        file: fileName,
        offset
      })
    )
  }
  return Either.right({ records, validLength: offset })
}
