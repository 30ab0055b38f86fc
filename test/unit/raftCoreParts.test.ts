/** The Raft core's building blocks: the in-memory log, quorum arithmetic, the PRNG and snapshot chunk assembly. */
import { describe, expect, it } from "vitest"
import {
  entriesForMessage, findConflictByTerm, lastIndex, markPersisted, type RaftLog, recordWrite, termAt, truncateAndAppend
} from "../../src/raft/log.ts"
import { makePrng, nextInt, nextUint32 } from "../../src/raft/prng.ts"
import { quorumIndex, tallyVotes } from "../../src/raft/quorum.ts"
import { receiveChunk } from "../../src/raft/snapshotTransfer.ts"
import type { Entry, Message } from "../../src/raft/types.ts"

const entry = (index: number, term: number, bytes = 1): Entry => ({ index, term, type: "normal", data: new Uint8Array(bytes) })

/** A log after a snapshot at (snapshotIndex, snapshotTerm) holding entries of the given terms. */
const logOf = (snapshotIndex: number, snapshotTerm: number, terms: ReadonlyArray<number>): RaftLog => {
  const entries = terms.map((term, k) => entry(snapshotIndex + 1 + k, term))
  const last = snapshotIndex + entries.length
  return { snapshotIndex, snapshotTerm, entries, stable: last, commit: snapshotIndex, applying: snapshotIndex, applied: snapshotIndex, pendingWrites: [] }
}

describe("Raft log", () => {
  it("knows terms from the snapshot on, and nothing below it or past the end", () => {
    const log = logOf(10, 2, [2, 3, 3])
    expect([9, 10, 11, 12, 13, 14].map((index) => termAt(log, index))).toEqual([undefined, 2, 2, 3, 3, undefined])
  })

  it("finds the last index at or below a point whose term is not above a given term, a term at a time", () => {
    const log = logOf(0, 0, [1, 1, 2, 2, 2, 5, 5])
    expect(findConflictByTerm(log, 7, 4)).toEqual({ index: 5, term: 2 })
    expect(findConflictByTerm(log, 7, 5)).toEqual({ index: 7, term: 5 })
    expect(findConflictByTerm(log, 4, 1)).toEqual({ index: 2, term: 1 })
    expect(findConflictByTerm(log, 100, 0)).toEqual({ index: 0, term: 0 })
    // Below a snapshot the term is unknown: an index below it comes back, so the leader sends the snapshot.
    const compacted = logOf(10, 4, [5, 5])
    expect(findConflictByTerm(compacted, 12, 3)).toEqual({ index: 9, term: 0 })
  })

  it("fills a message up to the entry count and byte caps, but always with at least one entry", () => {
    const log: RaftLog = { ...logOf(0, 0, []), entries: [entry(1, 1, 100), entry(2, 1, 100), entry(3, 1, 100), entry(4, 1, 500)] }
    expect(entriesForMessage(log, 1, 10, 250).map((e) => e.index)).toEqual([1, 2])
    expect(entriesForMessage(log, 1, 1, 10_000).map((e) => e.index)).toEqual([1])
    expect(entriesForMessage(log, 4, 10, 250).map((e) => e.index)).toEqual([4])
    expect(entriesForMessage(log, 5, 10, 250)).toEqual([])
  })

  it("a replaced tail is no longer durable, and an old durability report cannot vouch for its replacement", () => {
    const log = logOf(0, 0, [1, 1, 1])
    truncateAndAppend(log, [entry(4, 3), entry(5, 3)])
    recordWrite(log, 4)
    truncateAndAppend(log, [entry(4, 4), entry(5, 4)])
    recordWrite(log, 4)
    truncateAndAppend(log, [entry(4, 3), entry(5, 3)])
    recordWrite(log, 4)
    expect(log.stable).toBe(3)
    // The first write's report names (5, 3), which is in the log again, but the later writes are not durable yet.
    expect(markPersisted(log, 5, 3)).toBe(false)
    expect(log.stable).toBe(3)
    expect(markPersisted(log, 5, 4)).toBe(false)
    expect(markPersisted(log, 5, 3)).toBe(true)
    expect(log.stable).toBe(lastIndex(log))
    // A report for a write never asked for is ignored.
    expect(markPersisted(log, 9, 9)).toBe(false)
  })
})

describe("Raft quorum arithmetic", () => {
  it("the quorum index is the highest index a majority has reached", () => {
    expect(quorumIndex([5])).toBe(5)
    expect(quorumIndex([5, 3, 9])).toBe(5)
    expect(quorumIndex([1, 7, 7, 2, 9])).toBe(7)
    expect(quorumIndex([4, 4, 1, 1])).toBe(1)
  })

  it("a vote is won by a majority, lost once a majority is impossible", () => {
    const voters = ["a", "b", "c", "d", "e"]
    expect(tallyVotes(voters, new Map([["a", true], ["b", true]]))).toBe("pending")
    expect(tallyVotes(voters, new Map([["a", true], ["b", true], ["c", true]]))).toBe("won")
    expect(tallyVotes(voters, new Map([["a", true], ["b", false], ["c", false]]))).toBe("pending")
    expect(tallyVotes(voters, new Map([["a", true], ["b", false], ["c", false], ["d", false]]))).toBe("lost")
    expect(tallyVotes(["solo"], new Map([["solo", true]]))).toBe("won")
  })
})

describe("Raft PRNG", () => {
  it("replays from its seed, differs by node id, and stays in range", () => {
    const draw = (seed: number, id: string) => {
      const prng = makePrng(seed, id)
      return Array.from({ length: 8 }, () => nextUint32(prng))
    }
    expect(draw(7, "a")).toEqual(draw(7, "a"))
    expect(draw(7, "a")).not.toEqual(draw(7, "b"))
    expect(draw(7, "a")).not.toEqual(draw(8, "a"))
    const prng = makePrng(1, "x")
    const values = Array.from({ length: 1000 }, () => nextInt(prng, 10))
    expect(values.every((value) => value >= 0 && value < 10)).toBe(true)
    expect(new Set(values).size).toBe(10)
  })
})

describe("snapshot chunk assembly", () => {
  const chunk = (offset: number, bytes: Array<number>, total: number, extra: Partial<Message> = {}) => ({
    _tag: "InstallSnapshot" as const,
    from: "leader",
    to: "f",
    term: 3,
    snapshotIndex: 40,
    snapshotTerm: 2,
    offset,
    totalBytes: total,
    data: new Uint8Array(bytes),
    done: offset + bytes.length === total,
    ...extra
  }) as Extract<Message, { _tag: "InstallSnapshot" }>

  it("takes chunks only at the offset it wants next, so gaps and duplicates change nothing", () => {
    const taken: Array<number> = []
    const take = (incoming: Parameters<typeof receiveChunk>[0], message: Extract<Message, { _tag: "InstallSnapshot" }>) => {
      const result = receiveChunk(incoming, message)
      if (result.accepted !== null) {
        expect(result.accepted).toMatchObject({ index: 40, term: 2, offset: message.offset, totalBytes: 6 })
        taken.push(...result.accepted.data)
      }
      return result
    }
    let state = take(null, chunk(0, [1, 2], 6))
    expect(state.incoming?.received).toBe(2)
    state = take(state.incoming, chunk(4, [5, 6], 6))
    expect(state.incoming?.received).toBe(2)
    state = take(state.incoming, chunk(0, [1, 2], 6))
    expect(state.incoming?.received).toBe(2)
    state = take(state.incoming, chunk(2, [3, 4], 6))
    expect(state.incoming?.received).toBe(4)
    expect(state.complete).toBe(false)
    state = take(state.incoming, chunk(4, [5, 6], 6))
    expect(state.complete).toBe(true)
    expect(taken).toEqual([1, 2, 3, 4, 5, 6])
    expect(state.incoming).toBeNull()
  })

  it("a chunk of another transfer discards the partial copy; only offset 0 starts one", () => {
    const started = receiveChunk(null, chunk(0, [1, 2], 6))
    expect(receiveChunk(started.incoming, chunk(2, [3, 4], 6, { snapshotIndex: 50 })).incoming).toBeNull()
    expect(receiveChunk(started.incoming, chunk(2, [3, 4], 6, { term: 4 })).incoming).toBeNull()
    expect(receiveChunk(null, chunk(2, [3, 4], 6)).incoming).toBeNull()
    const restarted = receiveChunk(started.incoming, chunk(0, [9], 3, { snapshotIndex: 50 }))
    expect(restarted.incoming).toMatchObject({ index: 50, received: 1 })
  })

  it("an empty snapshot completes with its single chunk", () => {
    expect(receiveChunk(null, chunk(0, [], 0))).toEqual({ incoming: null, accepted: null, complete: true })
  })
})
