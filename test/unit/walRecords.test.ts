import { Either } from "effect"
import { Packr } from "msgpackr"
import { describe, expect, it } from "vitest"
import { decodeReplicatorRecord, encodeReplicatorRecord, type ReplicatorRecord, ReplicatorRecordType } from "../../src/raft/walRecords.ts"

const roundTrip = (record: ReplicatorRecord) => decodeReplicatorRecord(encodeReplicatorRecord(record), 0)

/** Bytes as plain arrays: msgpack gives binary back as a Buffer, a Uint8Array of another class. */
const plain = (value: unknown): unknown =>
  value instanceof Uint8Array
    ? { bytes: Array.from(value) }
    : value !== null && typeof value === "object"
    ? Object.fromEntries(Object.entries(value).map(([key, inner]) => [key, plain(inner)]))
    : value

describe("WAL records", () => {
  it("every record type comes back as it was written", () => {
    const records: ReadonlyArray<ReplicatorRecord> = [
      { _tag: "RaftEntry", index: 7, term: 3, type: "normal", data: new Uint8Array([1, 2, 3]) },
      { _tag: "RaftEntry", index: 8, term: 3, type: "noop", data: new Uint8Array(0) },
      { _tag: "HardState", term: 3, votedFor: "n2", commit: 6 },
      { _tag: "HardState", term: 4, votedFor: null, commit: 0 },
      { _tag: "SnapshotMark", index: 5, term: 2 },
      { _tag: "SnapshotFile", index: 5, term: 2, size: 4096 },
      { _tag: "Snapshot", index: 5, term: 2, data: new Uint8Array([9]) },
      { _tag: "Entry", index: 1, term: 1, entry: { request: null, command: { _tag: "Noop" } } }
    ]
    for (const record of records) {
      const read = roundTrip(record)
      expect(Either.isRight(read)).toBe(true)
      expect(plain(Either.getOrThrow(read))).toEqual(plain(record))
    }
  })

  it("the payload carries the fields without the tag, which the type byte carries", () => {
    const written = encodeReplicatorRecord({ _tag: "HardState", term: 2, votedFor: "n1", commit: 9 })
    expect(written.type).toBe(ReplicatorRecordType.HardState)
    expect(new Packr({ useRecords: false }).unpack(written.payload)).toEqual({ term: 2, votedFor: "n1", commit: 9 })
  })

  it("a hard state written before `commit` existed reads back with commit 0", () => {
    const payload = new Packr({ useRecords: false }).pack({ term: 5, votedFor: null })
    expect(decodeReplicatorRecord({ type: ReplicatorRecordType.HardState, payload }, 0))
      .toEqual(Either.right({ _tag: "HardState", term: 5, votedFor: null, commit: 0 }))
  })

  it("a payload that does not decode is Corruption naming its position", () => {
    const payload = new Packr({ useRecords: false }).pack({ index: -1, term: 1, type: "normal", data: new Uint8Array(0) })
    const result = decodeReplicatorRecord({ type: ReplicatorRecordType.RaftEntry, payload }, 12)
    expect(Either.isLeft(result) && result.left._tag === "Corruption" && result.left.message.includes("#12")).toBe(true)
  })
})
