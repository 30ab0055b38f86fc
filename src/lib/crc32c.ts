/**
 * CRC-32C (Castagnoli), the checksum of WAL records, snapshots and chunk blocks. Large inputs go
 * to @node-rs/crc32's native implementation (several GB/s); inputs under NATIVE_FROM bytes stay
 * in TypeScript, where a slice-by-8 table beats the cost of a native call (~150 ns). Where the
 * native binary cannot load, the table does everything (about 0.5 GB/s).
 */
import { createRequire } from "node:module"

const POLY = 0x82f63b78

/** Below this many bytes the table is faster than a native call (measured: 64 B 130 vs 174 ns, 128 B 269 vs 155 ns). */
const NATIVE_FROM = 128

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

/** `crc32c` in TypeScript: extend `crc` (a previous result, 0 to start) over `data`. */
export const crc32cTable = (data: Uint8Array, crc = 0): number => {
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

type NativeCrc = (input: Uint8Array, initialState?: number) => number

/** The native implementation, or null where its binary is missing for this platform. */
const loadNative = (): NativeCrc | null => {
  try {
    const native = (createRequire(import.meta.url)("@node-rs/crc32") as { crc32c: NativeCrc }).crc32c
    // Refuse a binary that disagrees with the table on the standard check value.
    return native(new TextEncoder().encode("123456789")) === 0xe3069283 ? native : null
  } catch {
    return null
  }
}

const native = loadNative()

/** Which implementation large inputs use (printed by benchmarks). */
export const crc32cImplementation: "native" | "table" = native === null ? "table" : "native"

/** Extend `crc` (the value of a previous call, 0 to start) over `data`. */
export const crc32c: (data: Uint8Array, crc?: number) => number = native === null
  ? crc32cTable
  : (data, crc = 0) => (data.length < NATIVE_FROM ? crc32cTable(data, crc) : native(data, crc) >>> 0)

// --- combining -----------------------------------------------------------------------------
// crc(A ‖ B) from crc(A), crc(B) and |B|: crc(A) advanced over |B| zero bytes, xor crc(B)
// (zlib's crc32_combine). Advancing is multiplication by a 32×32 matrix over GF(2), held as 32
// columns. The matrix for the block size is built once and cached, so a chunk's block checksums
// combine into the whole one for one product per block; any other length is advanced by the
// matrices for its set bits.

/** mat × vec over GF(2). */
const times = (mat: Uint32Array, vec: number): number => {
  let sum = 0
  for (let i = 0; vec !== 0; i++, vec >>>= 1) if (vec & 1) sum ^= mat[i]!
  return sum >>> 0
}

/** a ∘ b: applies b, then a. */
const compose = (a: Uint32Array, b: Uint32Array): Uint32Array => {
  const out = new Uint32Array(32)
  for (let n = 0; n < 32; n++) out[n] = times(a, b[n]!)
  return out
}

const square = (mat: Uint32Array): Uint32Array => compose(mat, mat)

/** The operator that advances a CRC over `length` zero bytes. */
const zerosOperator = (length: number): Uint32Array => {
  // One zero bit: shift right, folding in the polynomial when the low bit falls out.
  let power: Uint32Array = new Uint32Array(32)
  power[0] = POLY
  for (let n = 1; n < 32; n++) power[n] = (1 << (n - 1)) >>> 0
  power = square(square(square(power))) // 8 zero bits: one byte
  // result = product of power^(2^k) for the set bits k of length
  let result: Uint32Array | null = null
  for (let remaining = length; remaining > 0; remaining = Math.floor(remaining / 2)) {
    if (remaining % 2 === 1) result = result === null ? power : compose(power, result)
    if (remaining > 1) power = square(power)
  }
  return result ?? identity()
}

const identity = (): Uint32Array => {
  const out = new Uint32Array(32)
  for (let n = 0; n < 32; n++) out[n] = (1 << n) >>> 0
  return out
}

/**
 * The zeros operators for 2^k bytes, squared from the one before on first use: advancing over any length
 * applies one of them per set bit, so arbitrary lengths (an overwrite's offsets) need no
 * operator of their own.
 */
const powersOfTwo: Array<Uint32Array> = []
const powerOfTwo = (k: number): Uint32Array => {
  while (powersOfTwo.length <= k) {
    powersOfTwo.push(powersOfTwo.length === 0 ? zerosOperator(1) : square(powersOfTwo[powersOfTwo.length - 1]!))
  }
  return powersOfTwo[k]!
}

/** The CRC register `crc` advanced over `length` zero bytes. */
const advance = (crc: number, length: number): number => {
  let vec = crc >>> 0
  for (let k = 0, remaining = length; remaining > 0; k++, remaining = Math.floor(remaining / 2)) {
    if (remaining % 2 === 1) vec = times(powerOfTwo(k), vec)
  }
  return vec
}

const operators = new Map<number, Uint32Array>()
/** Block sizes and a few tail lengths get an operator of their own (one product per combine); other lengths are advanced bit by bit. */
const MAX_OPERATORS = 64

/** The register `crc` advanced over `length` zero bytes. */
const advanced = (crc: number, length: number): number => {
  let operator = operators.get(length)
  if (operator === undefined && operators.size < MAX_OPERATORS) {
    operator = zerosOperator(length)
    operators.set(length, operator)
  }
  return operator === undefined ? advance(crc, length) : times(operator, crc >>> 0)
}

/** crc32c(A ‖ B) from crcA = crc32c(A), crcB = crc32c(B) and lengthB = B's length. */
export const crc32cCombine = (crcA: number, crcB: number, lengthB: number): number =>
  lengthB === 0 ? crcA >>> 0 : (advanced(crcA, lengthB) ^ crcB) >>> 0

/** crc32c of `length` zero bytes (crc(A ‖ B) = advance(crc(A), |B|) ^ crc(B), with A empty standing for the register's all-ones start). */
export const crc32cZeros = (length: number): number => (advance(0xffffffff, length) ^ 0xffffffff) >>> 0

/**
 * crc32c of a version made from a base by laying `written` at `offset`: the base's bytes, zeros
 * from its end up to the new length, `written` over them. `replaced` is what the write covers of
 * the base's own bytes (base[offset, min(end, baseLength)); empty when it starts past the base).
 * CRC is affine, so for equal-length messages crc(x ^ y ^ z) = crc(x) ^ crc(y) ^ crc(z): the new
 * version is the zero-extended base xor a message that is zero but for (replaced ^ written) at
 * `offset`, and no byte outside the write is read.
 */
export const crc32cAfterOverwrite = (
  baseCrc: number,
  baseLength: number,
  offset: number,
  replaced: Uint8Array,
  written: Uint8Array
): number => {
  const end = offset + written.length
  const length = Math.max(baseLength, end)
  const expected = Math.max(0, Math.min(end, baseLength) - offset)
  if (replaced.length !== expected) throw new RangeError(`${replaced.length} replaced bytes where the base has ${expected}`)
  const difference = written.slice()
  for (let i = 0; i < replaced.length; i++) difference[i]! ^= replaced[i]!
  const extendedBase = crc32cCombine(baseCrc, crc32cZeros(length - baseLength), length - baseLength)
  const delta = crc32cCombine(crc32cCombine(crc32cZeros(offset), crc32c(difference), difference.length), crc32cZeros(length - end), length - end)
  return (extendedBase ^ delta ^ crc32cZeros(length)) >>> 0
}

/** The CRC of each `blockSize` block of `data` (the last may be short) and of the whole, in one pass over the bytes. */
export const crc32cBlocks = (data: Uint8Array, blockSize: number): { readonly blocks: Uint32Array; readonly whole: number } => {
  const count = Math.ceil(data.length / blockSize)
  const blocks = new Uint32Array(count)
  let whole = 0
  for (let block = 0; block < count; block++) {
    const start = block * blockSize
    const end = Math.min(start + blockSize, data.length)
    blocks[block] = crc32c(data.subarray(start, end))
    whole = block === 0 ? blocks[0]! : crc32cCombine(whole, blocks[block]!, end - start)
  }
  return { blocks, whole }
}
