import { describe, expect, it } from "@effect/vitest"
import { Either } from "effect"
import fc from "fast-check"
import { decodeSegment, encodeRecord, encodeRecords } from "../../src/raft/walCodec.ts"
import type { WalRecord } from "../../src/services/WriteAheadLog.ts"

const seed = 20240611
const numRuns = 300

const recordArb: fc.Arbitrary<WalRecord> = fc.record({
  type: fc.integer({ min: 1, max: 254 }),
  payload: fc.uint8Array({ maxLength: 48 })
})
const recordsArb = fc.array(recordArb, { minLength: 1, maxLength: 12 })

/** The segment bytes and each record's start offset (plus the end, last). */
const layout = (records: ReadonlyArray<WalRecord>) => {
  const bytes = encodeRecords(records)
  const offsets = [0]
  for (const record of records) offsets.push(offsets[offsets.length - 1]! + encodeRecord(record).length)
  return { bytes, offsets }
}

const plain = (records: ReadonlyArray<WalRecord>) =>
  records.map((record) => ({ type: record.type, payload: Array.from(record.payload) }))

const flipByte = (bytes: Uint8Array, at: number, mask: number) => {
  const copy = bytes.slice()
  copy[at] = copy[at]! ^ mask
  return copy
}

describe("walCodec", () => {
  it("round-trips records", () => {
    fc.assert(
      fc.property(recordsArb, (records) => {
        const decoded = Either.getOrThrow(decodeSegment(encodeRecords(records), "seg", true))
        expect(plain(decoded.records)).toEqual(plain(records))
        expect(decoded.validLength).toBe(encodeRecords(records).length)
      }),
      { seed, numRuns }
    )
  })

  it("truncating the last segment anywhere keeps exactly the complete records before the cut", () => {
    fc.assert(
      fc.property(recordsArb, fc.nat(), (records, cutSeed) => {
        const { bytes, offsets } = layout(records)
        const cut = cutSeed % (bytes.length + 1)
        const complete = offsets.filter((end) => end <= cut).length - 1
        const decoded = Either.getOrThrow(decodeSegment(bytes.slice(0, cut), "seg", true))
        expect(plain(decoded.records)).toEqual(plain(records.slice(0, complete)))
        expect(decoded.validLength).toBe(offsets[complete])
      }),
      { seed, numRuns }
    )
  })

  it("a cut inside a record of an older segment is corruption at that record", () => {
    fc.assert(
      fc.property(recordsArb, fc.nat(), (records, cutSeed) => {
        const { bytes, offsets } = layout(records)
        const cut = cutSeed % bytes.length
        fc.pre(!offsets.includes(cut))
        const damaged = offsets.filter((start) => start < cut).pop()!
        const result = decodeSegment(bytes.slice(0, cut), "wal-old.log", false)
        expect(Either.isLeft(result)).toBe(true)
        if (Either.isLeft(result)) {
          expect(result.left._tag).toBe("Corruption")
          expect(result.left.file).toBe("wal-old.log")
          expect(result.left.offset).toBe(damaged)
        }
      }),
      { seed, numRuns }
    )
  })

  it("a flipped byte in a record that valid records follow is corruption naming file and offset", () => {
    fc.assert(
      fc.property(
        recordsArb.filter((records) => records.length >= 2),
        fc.nat(),
        fc.nat(),
        fc.integer({ min: 1, max: 255 }),
        (records, whichSeed, bytePick, mask) => {
          const { bytes, offsets } = layout(records)
          const which = whichSeed % (records.length - 1)
          const at = offsets[which]! + (bytePick % (offsets[which + 1]! - offsets[which]!))
          const result = decodeSegment(flipByte(bytes, at, mask), "wal-0000000000000007.log", true)
          expect(Either.isLeft(result)).toBe(true)
          if (Either.isLeft(result)) {
            expect(result.left.file).toBe("wal-0000000000000007.log")
            expect(result.left.offset).toBe(offsets[which])
            expect(result.left.message).toContain("wal-0000000000000007.log")
          }
        }
      ),
      { seed, numRuns }
    )
  })

  it("any flipped byte in an older segment is corruption at the damaged record", () => {
    fc.assert(
      fc.property(recordsArb, fc.nat(), fc.integer({ min: 1, max: 255 }), (records, bytePick, mask) => {
        const { bytes, offsets } = layout(records)
        const at = bytePick % bytes.length
        const which = offsets.filter((start) => start <= at).length - 1
        const result = decodeSegment(flipByte(bytes, at, mask), "old.log", false)
        expect(Either.isLeft(result)).toBe(true)
        if (Either.isLeft(result)) expect(result.left.offset).toBe(offsets[which])
      }),
      { seed, numRuns }
    )
  })

  it("a flipped byte in the last record gives corruption or exactly the records before it", () => {
    let torn = 0
    fc.assert(
      fc.property(recordsArb, fc.nat(), fc.integer({ min: 1, max: 255 }), (records, bytePick, mask) => {
        const { bytes, offsets } = layout(records)
        const last = records.length - 1
        const at = offsets[last]! + (bytePick % (bytes.length - offsets[last]!))
        const result = decodeSegment(flipByte(bytes, at, mask), "seg", true)
        if (Either.isRight(result)) {
          torn++
          expect(plain(result.right.records)).toEqual(plain(records.slice(0, last)))
          expect(result.right.validLength).toBe(offsets[last])
        } else {
          expect(result.left.offset).toBe(offsets[last])
        }
      }),
      { seed, numRuns }
    )
    // With nothing after it, a damaged last record is indistinguishable from a torn write.
    expect(torn).toBeGreaterThan(0)
  })

  it("a zero-filled tail is torn in the last segment and corruption in an older one", () => {
    fc.assert(
      fc.property(recordsArb, fc.integer({ min: 1, max: 4096 }), (records, zeros) => {
        const { bytes } = layout(records)
        const padded = new Uint8Array(bytes.length + zeros)
        padded.set(bytes)
        const decoded = Either.getOrThrow(decodeSegment(padded, "seg", true))
        expect(plain(decoded.records)).toEqual(plain(records))
        expect(decoded.validLength).toBe(bytes.length)
        const older = decodeSegment(padded, "seg", false)
        expect(Either.isLeft(older) && older.left.offset === bytes.length).toBe(true)
      }),
      { seed, numRuns }
    )
  })

  it("a record whose payload never reached the disk (header then zeros) is torn", () => {
    const records: Array<WalRecord> = [
      { type: 1, payload: new Uint8Array([1, 2, 3]) },
      { type: 2, payload: new Uint8Array(100).fill(7) }
    ]
    const { bytes, offsets } = layout(records)
    const crashed = bytes.slice()
    crashed.fill(0, offsets[1]! + 9)
    const decoded = Either.getOrThrow(decodeSegment(crashed, "seg", true))
    expect(plain(decoded.records)).toEqual(plain(records.slice(0, 1)))
    expect(decoded.validLength).toBe(offsets[1])
  })

  it("an empty segment has no records", () => {
    expect(Either.getOrThrow(decodeSegment(new Uint8Array(0), "seg", false))).toEqual({ records: [], validLength: 0 })
  })

  it("refuses to encode the reserved type 0", () => {
    expect(() => encodeRecord({ type: 0, payload: new Uint8Array(1) })).toThrow(RangeError)
  })
})
