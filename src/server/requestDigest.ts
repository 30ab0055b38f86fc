/**
 * The digest a node records with a client request's outcome: 32 bits over what the client
 * asked (the rpc and its fields, without the session bookkeeping or how long it waits). A
 * request id that comes back with a different digest named another request, and is refused.
 */
import { Packr } from "msgpackr"
import { crc32c } from "../lib/crc32c.ts"

// Fields in schema order (decoding builds them so), no shared structures: the same request gives the same bytes.
const packr = new Packr({ useRecords: false })

/**
 * What stands for bytes (a Write's data, up to 16 MiB) in the packed fields: their length and
 * checksum, the one the client sent if it did. Packing the bytes would copy them, more than
 * once as the encoder's buffer grows.
 */
export const bytesSummary = (bytes: Uint8Array, checksum: number = crc32c(bytes)) => ({ bytes: bytes.length, crc32c: checksum })

const withBytesSummarized = (fields: object): object => {
  let summarized: Record<string, unknown> | null = null
  for (const [key, value] of Object.entries(fields)) {
    if (!(value instanceof Uint8Array)) continue
    summarized ??= { ...fields }
    summarized[key] = bytesSummary(value)
  }
  return summarized ?? fields
}

export const requestDigest = (rpc: string, fields: object): number => crc32c(packr.pack([rpc, withBytesSummarized(fields)])) | 0
