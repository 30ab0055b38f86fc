import { describe, expect, it } from "@effect/vitest"
import { Either } from "effect"
import { decodeEntryData, makeEntryCodec } from "../../layers/replicator/entryData.ts"
import type { LogEntry } from "../../src/domain/commands.ts"

const mkdir = (name: string): LogEntry => ({
  request: null,
  command: { _tag: "Mkdir", parent: 1 as never, name, mode: 0o755, uid: 0, gid: 0, now: 5 },
  clock: 5
})

const at = (data: Uint8Array) => ({ index: 1, term: 1, type: "normal" as const, data })

describe("entry codec", () => {
  it("the proposing node applies what every other node decodes from the bytes", () => {
    const leader = makeEntryCodec()
    const follower = makeEntryCodec()
    const entry = mkdir("dir ✓ 😀")
    const data = Either.getOrThrow(leader.encode(entry))
    const onLeader = Either.getOrThrow(leader.decode(at(data)))
    const onFollower = Either.getOrThrow(follower.decode(at(data)))
    expect(onFollower).toEqual(onLeader)
    expect(Either.getOrThrow(decodeEntryData(at(data)))).toEqual(onLeader)
  })

  it("refuses a command msgpack would not carry unchanged (a lone surrogate), before it reaches the log", () => {
    const codec = makeEntryCodec()
    for (const name of ["x\uD800", "\uDC00y", "a\uD83Db"]) {
      const refused = codec.encode(mkdir(name))
      expect(Either.isLeft(refused) && refused.left._tag).toBe("InvalidArgument")
    }
    expect(Either.isRight(codec.encode(mkdir("pair \uD83D\uDE00")))).toBe(true)
  })
})
