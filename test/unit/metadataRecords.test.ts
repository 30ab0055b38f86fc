/** The stored form of a session's recorded reply: flat arrays for successes, the Schema for errors, and replies stored before. */
import { describe, expect, it } from "@effect/vitest"
import { Schema } from "effect"
import { Packr } from "msgpackr"
import { CommandOutcome } from "../../src/domain/commands.ts"
import { Corruption, NotFound } from "../../src/domain/errors.ts"
import { ReplyCodec, type ReplyRecord } from "../../layers/metadata/records.ts"

const attributes = {
  inode: 42, type: "file" as const, mode: 0o644, uid: 1000, gid: 100, size: 12_345, nlink: 1,
  atime: 1_700_000_000_000, mtime: 1_700_000_000_001.5, ctime: 1_700_000_000_002
}
const replies: ReadonlyArray<ReplyRecord> = [
  { digest: 7, outcome: { _tag: "Ok", result: null } },
  { digest: 2 ** 40, outcome: { _tag: "Ok", result: attributes } },
  { digest: 0, outcome: { _tag: "Ok", result: { ...attributes, type: "directory", nlink: 2, size: 0 } } },
  { digest: 9, outcome: { _tag: "Err", error: new NotFound({ message: "no entry \"x\"" }) } }
]

/** How a reply was stored before successes became flat arrays: the whole outcome through its Schema. */
const packr = new Packr({ useRecords: false, int64AsType: "number" })
const storedBefore = (reply: ReplyRecord) =>
  packr.pack(Schema.encodeSync(Schema.Tuple(Schema.Int, CommandOutcome))([reply.digest, reply.outcome]))

describe("ReplyCodec", () => {
  it("round-trips successes with and without attributes, and typed errors", () => {
    for (const reply of replies) expect(ReplyCodec.decode(ReplyCodec.encode(reply))).toEqual(reply)
  })

  it("stores a success as a flat array, smaller than the outcome's Schema encoding", () => {
    for (const reply of replies.slice(0, 3)) {
      expect(ReplyCodec.encode(reply).length).toBeLessThan(storedBefore(reply).length)
    }
  })

  it("reads replies stored before, in the Schema form", () => {
    for (const reply of replies) expect(ReplyCodec.decode(storedBefore(reply))).toEqual(reply)
  })

  it("refuses a damaged flat reply as Corruption", () => {
    const damaged = [
      [7, 0, "extra"],
      [7, 1, 42, 0, 0o644],
      ["seven", 0],
      [7, 1, 42, 3, 0o644, 0, 0, 0, 1, 1, 1, 1],
      [7, 2],
      [7, 1, 0, 0, 0o644, 0, 0, 0, 1, 1, 1, 1]
    ]
    for (const values of damaged) expect(() => ReplyCodec.decode(packr.pack(values))).toThrow(Corruption)
  })
})
