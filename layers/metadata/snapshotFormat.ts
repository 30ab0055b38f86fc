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

/** Bytes checksummed between yields while a snapshot is finished. */
const CHECKSUM_SLICE = 4 * 1024 * 1024

/**
 * Builds a snapshot page by page, so a large store is encoded in pieces with other work (the
 * Raft loop, requests) running in between, instead of in one long synchronous stretch.
 */
export class SnapshotEncoder {
  private readonly pages: Array<Buffer> = []
  private count = 0
  private bytes = 0

  /** Add entries that follow every entry added so far in key order. */
  add(entries: ReadonlyArray<readonly [Buffer, Buffer]>): void {
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
    this.pages.push(page)
    this.count += entries.length
    this.bytes += length
  }

  /** The snapshot: header, pages and the checksum over them, checksummed a slice at a time. */
  get finish(): Effect.Effect<Uint8Array> {
    return Effect.gen(this, function*() {
      const out = Buffer.allocUnsafe(MAGIC.length + 4 + this.bytes + 4)
      let at = MAGIC.copy(out, 0)
      at = out.writeUInt32BE(this.count, at)
      for (const page of this.pages) at += page.copy(out, at)
      this.pages.length = 0
      let crc = 0
      for (let from = 0; from < at; from += CHECKSUM_SLICE) {
        crc = crc32c(out.subarray(from, Math.min(at, from + CHECKSUM_SLICE)), crc)
        yield* Effect.yieldNow()
      }
      out.writeUInt32BE(crc, at)
      return out
    })
  }
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
