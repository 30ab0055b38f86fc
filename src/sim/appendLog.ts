/**
 * The simulation's append-only log: a file only ever written with O_APPEND, one fixed-size
 * record per append op. A record names its append (the op's record number) and carries a
 * checksum, so the log read back after a run says exactly which appends landed, how often, and
 * whether any record was torn — an exactly-once check that needs no read at the right moment.
 */
import { crc32c } from "../lib/crc32c.ts"

export const APPEND_LOG = "/log"
export const RECORD_BYTES = 12
const MAGIC = 0x41505044 // "APPD"

export const encodeRecord = (record: number): Uint8Array => {
  const bytes = new Uint8Array(RECORD_BYTES)
  const view = new DataView(bytes.buffer)
  view.setUint32(0, MAGIC)
  view.setUint32(4, record >>> 0)
  view.setUint32(8, crc32c(bytes.subarray(0, 8)) >>> 0)
  return bytes
}

/** The records of a log, in order, or why it does not parse. */
export const decodeLog = (bytes: Uint8Array): { readonly records: ReadonlyArray<number> } | { readonly problem: string } => {
  if (bytes.length % RECORD_BYTES !== 0) return { problem: `${bytes.length} bytes is not a whole number of ${RECORD_BYTES}-byte records` }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const records: Array<number> = []
  for (let at = 0; at < bytes.length; at += RECORD_BYTES) {
    const valid = view.getUint32(at) === MAGIC && view.getUint32(at + 8) === (crc32c(bytes.subarray(at, at + 8)) >>> 0)
    if (!valid) return { problem: `the record at byte ${at} is damaged or torn` }
    records.push(view.getUint32(at + 4))
  }
  return { records }
}
