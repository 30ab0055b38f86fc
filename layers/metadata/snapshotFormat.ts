/**
 * Byte format of a metadata snapshot: every key/value pair of the store in key order, framed
 * and checksummed, so equal states are equal bytes and a damaged snapshot is refused whole.
 *
 *   "SSMETA01" | u32 count | count × (u32 keyLength | key | u32 valueLength | value) | u32 crc32c
 *
 * The checksum covers everything before it.
 */
import { Effect } from "effect"
import { Corruption } from "../../src/domain/errors.ts"
import { crc32c } from "../../src/lib/crc32c.ts"

const MAGIC = Buffer.from("SSMETA01", "latin1")

export const encodeSnapshot = (entries: ReadonlyArray<readonly [Buffer, Buffer]>): Uint8Array => {
  let length = MAGIC.length + 4 + 4
  for (const [key, value] of entries) length += 8 + key.length + value.length
  const out = Buffer.allocUnsafe(length)
  let at = MAGIC.copy(out, 0)
  at = out.writeUInt32BE(entries.length, at)
  for (const [key, value] of entries) {
    at = out.writeUInt32BE(key.length, at)
    at += key.copy(out, at)
    at = out.writeUInt32BE(value.length, at)
    at += value.copy(out, at)
  }
  out.writeUInt32BE(crc32c(out.subarray(0, at)), at)
  return out
}

const corrupt = (message: string) => Effect.fail(new Corruption({ message: `metadata snapshot: ${message}` }))

/** The entries of a snapshot, in strictly increasing key order. */
export const decodeSnapshot = (data: Uint8Array): Effect.Effect<Array<[Buffer, Buffer]>, Corruption> => {
  const bytes = Buffer.from(data.buffer, data.byteOffset, data.byteLength)
  if (bytes.length < MAGIC.length + 8) return corrupt(`too short (${bytes.length} bytes)`)
  if (!bytes.subarray(0, MAGIC.length).equals(MAGIC)) return corrupt("bad magic")
  const body = bytes.length - 4
  if (crc32c(bytes.subarray(0, body)) !== bytes.readUInt32BE(body)) return corrupt("checksum mismatch")
  const count = bytes.readUInt32BE(MAGIC.length)
  const entries: Array<[Buffer, Buffer]> = []
  let at = MAGIC.length + 4
  const field = (): Buffer | undefined => {
    if (at + 4 > body) return undefined
    const length = bytes.readUInt32BE(at)
    if (at + 4 + length > body) return undefined
    // Copies, so the restored store never aliases the caller's buffer.
    const value = Buffer.from(bytes.subarray(at + 4, at + 4 + length))
    at += 4 + length
    return value
  }
  for (let i = 0; i < count; i++) {
    const key = field()
    const value = field()
    if (key === undefined || value === undefined) return corrupt(`entry ${i} overruns the data at offset ${at}`)
    const previous = entries[entries.length - 1]
    if (previous !== undefined && Buffer.compare(previous[0], key) >= 0) return corrupt(`entry ${i} is out of key order`)
    entries.push([key, value])
  }
  if (at !== body) return corrupt(`${body - at} trailing bytes`)
  return Effect.succeed(entries)
}
