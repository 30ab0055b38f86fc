/**
 * CRC-32C (Castagnoli), the checksum of WAL records and chunk blocks. Slice-by-8 tables make
 * it fast enough for multi-MiB chunks in pure TypeScript.
 */
const POLY = 0x82f63b78

const TABLES: ReadonlyArray<Uint32Array> = (() => {
  const tables = Array.from({ length: 8 }, () => new Uint32Array(256))
  for (let i = 0; i < 256; i++) {
    let c = i
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ POLY : c >>> 1
    tables[0]![i] = c >>> 0
  }
  for (let i = 0; i < 256; i++) {
    for (let t = 1; t < 8; t++) {
      const prev = tables[t - 1]![i]!
      tables[t]![i] = (prev >>> 8) ^ tables[0]![prev & 0xff]!
    }
  }
  return tables
})()

/** Extend `crc` (the value of a previous call, 0 to start) over `data`. */
export const crc32c = (data: Uint8Array, crc = 0): number => {
  const [t0, t1, t2, t3, t4, t5, t6, t7] = TABLES as [Uint32Array, Uint32Array, Uint32Array, Uint32Array, Uint32Array, Uint32Array, Uint32Array, Uint32Array]
  let c = ~crc >>> 0
  let i = 0
  const n = data.length
  const end8 = n - (n % 8)
  while (i < end8) {
    const a = (data[i]! | (data[i + 1]! << 8) | (data[i + 2]! << 16) | (data[i + 3]! << 24)) ^ c
    c = t7[a & 0xff]! ^ t6[(a >>> 8) & 0xff]! ^ t5[(a >>> 16) & 0xff]! ^ t4[a >>> 24]! ^
      t3[data[i + 4]!]! ^ t2[data[i + 5]!]! ^ t1[data[i + 6]!]! ^ t0[data[i + 7]!]!
    i += 8
  }
  while (i < n) c = (c >>> 8) ^ t0[(c ^ data[i++]!) & 0xff]!
  return ~c >>> 0
}
