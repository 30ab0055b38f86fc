/** ReadIndex in the Raft core: confirmation by a quorum, the wait for a first commit, a deposed leader, redirects. */
import { describe, expect, it } from "vitest"
import { Cluster, defaultNodeConfig } from "../support/raftHarness.ts"

const electionTicks = defaultNodeConfig.electionTicks

describe("Raft ReadIndex", () => {
  it("answers with the commit index at request time once a quorum acknowledged a heartbeat", () => {
    const cluster = new Cluster({ ids: ["a", "b", "c"], seed: 41 })
    cluster.elect("a")
    cluster.propose("a", "v")
    cluster.settle()
    const commit = cluster.status("a").commitIndex
    const read = cluster.read("a")
    // Nothing is answered before a follower acknowledged the heartbeat that carries the read.
    expect(cluster.readResults.has(read)).toBe(false)
    cluster.propose("a", "later")
    cluster.settle()
    expect(cluster.readResults.get(read)).toEqual({ _tag: "ReadReady", id: read, index: commit })
  })

  it("waits for the new leader to commit an entry of its own term", () => {
    const cluster = new Cluster({ ids: ["a", "b", "c"], seed: 42 })
    // Followers' answers are held, so the new leader's no-op cannot commit yet.
    const holdAnswers = cluster.addFilter((message) => message.to === "a" && message._tag === "AppendEntriesResponse")
    cluster.elect("a")
    expect(cluster.status("a").commitIndex).toBe(0)
    const read = cluster.read("a")
    cluster.heartbeat("a")
    expect(cluster.readResults.has(read)).toBe(false)
    holdAnswers()
    cluster.heartbeat("a")
    cluster.heartbeat("a")
    const result = cluster.readResults.get(read)
    expect(result?._tag).toBe("ReadReady")
    expect(result?._tag === "ReadReady" && result.index).toBeGreaterThanOrEqual(1)
  })

  it("reads asked while a round is unconfirmed share the next round: one heartbeat broadcast for them all", () => {
    const cluster = new Cluster({ ids: ["a", "b", "c"], seed: 46 })
    cluster.elect("a")
    cluster.propose("a", "v")
    cluster.settle()
    const heartbeats = () => cluster.sent.filter((m) => m.from === "a" && m._tag === "AppendEntries" && m.entries.length === 0).length
    const before = heartbeats()
    const first = cluster.read("a")
    expect(heartbeats()).toBe(before + 2)
    const queued = [cluster.read("a"), cluster.read("a"), cluster.read("a")]
    // No broadcast of their own while the first round is unconfirmed.
    expect(heartbeats()).toBe(before + 2)
    cluster.propose("a", "later")
    const commitBeforeSecondRound = cluster.status("a").commitIndex
    cluster.settle()
    expect(cluster.readResults.get(first)?._tag).toBe("ReadReady")
    for (const read of queued) {
      const result = cluster.readResults.get(read)
      expect(result?._tag).toBe("ReadReady")
      // Their read index is taken when their round starts, never before they were asked.
      expect(result?._tag === "ReadReady" && result.index).toBeGreaterThanOrEqual(commitBeforeSecondRound)
    }
    // The three queued reads were confirmed by one more round (and whatever the proposal sent).
    const roundContexts = new Set(cluster.sent.filter((m) => m.from === "a" && m._tag === "AppendEntries").map((m) => m._tag === "AppendEntries" ? m.readContext : 0))
    expect(Math.max(...roundContexts)).toBe(2)
  })

  it("a single-voter leader answers at once", () => {
    const cluster = new Cluster({ ids: ["solo"], seed: 43 })
    for (let k = 0; k < 2 * electionTicks && cluster.status("solo").role !== "leader"; k++) cluster.tick("solo")
    cluster.propose("solo", "v")
    const read = cluster.read("solo")
    expect(cluster.readResults.get(read)).toEqual({ _tag: "ReadReady", id: read, index: 2 })
  })

  it("followers turn proposals and reads away with the leader's id", () => {
    const cluster = new Cluster({ ids: ["a", "b", "c"], seed: 44 })
    cluster.elect("a")
    cluster.heartbeat("a")
    expect(cluster.propose("b", "v")).toEqual({ _tag: "Rejected", id: expect.any(Number), leaderId: "a" })
    const read = cluster.read("c")
    expect(cluster.readResults.get(read)).toEqual({ _tag: "ReadRejected", id: read, leaderId: "a" })
  })

  it("an isolated old leader serves no read, commits no write, and steps down by check-quorum", () => {
    const cluster = new Cluster({ ids: ["a", "b", "c"], seed: 45 })
    cluster.elect("a")
    cluster.propose("a", "before")
    cluster.heartbeat("a")
    const term = cluster.status("a").term
    const commit = cluster.status("a").commitIndex
    cluster.isolate("a")
    const read = cluster.read("a")
    expect(cluster.propose("a", "lost")._tag).toBe("Accepted")
    let steppedDownAfter = -1
    for (let k = 1; k <= 4 * electionTicks; k++) {
      cluster.tickAll()
      cluster.settle()
      expect(cluster.readResults.get(read)?._tag).not.toBe("ReadReady")
      expect(cluster.status("a").commitIndex).toBe(commit)
      if (steppedDownAfter < 0 && cluster.status("a").role !== "leader") steppedDownAfter = k
    }
    // It stepped down on its own (no message reached it, so its term is unchanged) within two election timeouts.
    expect(steppedDownAfter).toBeGreaterThan(0)
    expect(steppedDownAfter).toBeLessThanOrEqual(2 * electionTicks)
    expect(cluster.status("a").term).toBe(term)
    expect(cluster.readResults.get(read)).toEqual({ _tag: "ReadRejected", id: read, leaderId: null })
    // Meanwhile the majority elected a leader that commits.
    const leader = cluster.leader()!
    expect(["b", "c"]).toContain(leader)
    cluster.propose(leader, "after")
    cluster.runUntil(() => cluster.acknowledged.has("after"), 10 * electionTicks, "the new leader's commit")
    cluster.heal()
    cluster.runUntil(() => cluster.node("a").stateMachine.values.includes("after"), 10 * electionTicks, "a's catch-up")
    expect(cluster.logValues("a")).not.toContain("lost")
  })
})
