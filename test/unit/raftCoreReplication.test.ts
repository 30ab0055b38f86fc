/**
 * Log replication in the Raft core: commitment by counting (and never of an old-term entry on
 * its own: Figure 8), minority partitions, repair of a divergent tail with fast backtracking,
 * and batched, pipelined AppendEntries.
 */
import { describe, expect, it } from "vitest"
import { followerProgress } from "../../src/raft/core.ts"
import type { Message } from "../../src/raft/types.ts"
import { Cluster, defaultNodeConfig, valueOf } from "../support/raftHarness.ts"

const electionTicks = defaultNodeConfig.electionTicks

const appliedValues = (cluster: Cluster): Array<string> =>
  cluster.ids.flatMap((id) => cluster.node(id).stateMachine.values)

const isAppend = (message: Message): message is Extract<Message, { _tag: "AppendEntries" }> =>
  message._tag === "AppendEntries"

describe("Raft log replication", () => {
  it("a leader in a minority partition cannot commit; the majority side can", () => {
    const cluster = new Cluster({ ids: ["a", "b", "c", "d", "e"], seed: 11 })
    cluster.runUntil(() => cluster.leader() !== null, 10 * electionTicks, "a leader")
    const old = cluster.leader()!
    const others = cluster.ids.filter((id) => id !== old)
    cluster.partition([old, others[0]!], others.slice(1))
    const commitBefore = cluster.status(old).commitIndex
    expect(cluster.propose(old, "minority")._tag).toBe("Accepted")
    cluster.runUntil(() => cluster.leader() !== null && cluster.leader() !== old, 20 * electionTicks, "a majority leader")
    const leader = cluster.leader()!
    cluster.propose(leader, "majority")
    cluster.runUntil(() => cluster.acknowledged.has("majority"), 10 * electionTicks, "the majority's commit")
    expect(cluster.status(old).commitIndex).toBe(commitBefore)
    cluster.heal()
    cluster.runUntil(() => cluster.ids.every((id) => cluster.node(id).stateMachine.values.includes("majority")), 10 * electionTicks, "catch-up")
    expect(appliedValues(cluster)).not.toContain("minority")
  })

  // Figure 8 of the Raft paper, with a no-op per leader. One entry per message makes the old
  // entry and the new leader's no-op travel separately, so the old one can reach a majority alone.
  const figure8 = () => {
    const ids = ["s1", "s2", "s3", "s4", "s5"]
    const cluster = new Cluster({
      ids,
      seed: 8,
      config: { maxEntriesPerMessage: 1, preVote: false, checkQuorum: false }
    })
    // (a) s1 leads term 1 and gets "x" to s2 only.
    cluster.elect("s1")
    cluster.heartbeat("s1")
    cluster.partition(["s1", "s2"], ["s3", "s4", "s5"])
    cluster.propose("s1", "x")
    cluster.settle()
    expect(cluster.logValues("s2")).toEqual(["", "x"])
    // (b) s1 crashes; s5 wins term 2 with s3 and s4, but its no-op at index 2 reaches no one.
    cluster.crash("s1")
    cluster.partition(["s2"], ["s3", "s4", "s5"])
    const quietS5 = cluster.addFilter((message) => message.from === "s5" && isAppend(message))
    cluster.elect("s5")
    quietS5()
    expect(cluster.status("s5").lastTerm).toBe(cluster.status("s5").term)
    // (c) s5 crashes; s1 restarts and wins a later term with s2, s3 and s4. It replicates "x"
    // (term 1) to a majority, but its own no-op (index 3) reaches no one.
    cluster.crash("s5")
    cluster.heal()
    cluster.restart("s1")
    const noNoop = cluster.addFilter((message) => isAppend(message) && message.entries.some((entry) => entry.index === 3))
    cluster.elect("s1")
    cluster.heartbeat("s1")
    const holdersOfX = ids.filter((id) => cluster.isUp(id) && cluster.logValues(id)[1] === "x")
    expect(holdersOfX.length).toBeGreaterThanOrEqual(3)
    return { cluster, noNoop }
  }

  it("an old-term entry on a majority is not committed by counting (Figure 8), and may be overwritten", () => {
    const { cluster, noNoop } = figure8()
    expect(cluster.status("s1").commitIndex).toBe(1)
    expect(cluster.node("s1").stateMachine.values).toEqual([""])
    // (d) s1 crashes; s5 restarts and wins with s2, s3, s4 (its last term, 2, is newer than
    // theirs) and overwrites index 2 everywhere. Had s1 counted "x" as committed, this would
    // be a state-machine safety violation, which the harness reports.
    noNoop()
    cluster.crash("s1")
    cluster.restart("s5")
    cluster.elect("s5")
    cluster.propose("s5", "y")
    cluster.runUntil(() => cluster.acknowledged.has("y"), 10 * electionTicks, "s5's commit")
    for (const id of ["s2", "s3", "s4"]) {
      cluster.runUntil(() => cluster.node(id).stateMachine.values.includes("y"), 10 * electionTicks, `${id} catching up`)
      expect(cluster.node(id).stateMachine.values[1]).toBe("")
    }
    expect(appliedValues(cluster)).not.toContain("x")
  })

  it("the old-term entry commits once an entry of the leader's own term commits above it (Figure 8 (e))", () => {
    const { cluster, noNoop } = figure8()
    noNoop()
    cluster.heartbeat("s1")
    cluster.heartbeat("s1")
    expect(cluster.status("s1").commitIndex).toBeGreaterThanOrEqual(3)
    expect(cluster.node("s1").stateMachine.values.slice(0, 2)).toEqual(["", "x"])
    // s5 can no longer win: a majority holds an entry of term 3.
    cluster.crash("s1")
    cluster.restart("s5")
    for (let k = 0; k < 20 * electionTicks; k++) {
      cluster.tick("s5")
      cluster.settle()
      expect(cluster.status("s5").role).not.toBe("leader")
    }
  })

  it("repairs a follower's divergent uncommitted tail", () => {
    // "a" leads, is cut off, and accepts proposals nobody else sees; the others elect a
    // leader that commits entries of its own at those indices.
    const ids = ["a", "b", "c", "d", "e"]
    const cluster = new Cluster({ ids, seed: 21, config: { maxEntriesPerMessage: 8 } })
    cluster.elect("a")
    for (let k = 0; k < 3; k++) cluster.propose("a", `common-${k}`)
    cluster.heartbeat("a")
    cluster.isolate("a")
    for (let k = 0; k < 20; k++) cluster.propose("a", `stale-${k}`)
    const rest = ids.filter((id) => id !== "a")
    cluster.runUntil(() => rest.some((id) => cluster.status(id).role === "leader"), 20 * electionTicks, "a second leader")
    const leader = rest.find((id) => cluster.status(id).role === "leader")!
    for (let k = 0; k < 20; k++) cluster.propose(leader, `fresh-${k}`)
    cluster.runUntil(() => cluster.acknowledged.has("fresh-19"), 20 * electionTicks, "the new leader's commits")
    expect(cluster.logValues("a").filter((value) => value.startsWith("stale-"))).toHaveLength(20)
    cluster.heal()
    cluster.runUntil(() => cluster.node("a").stateMachine.values.includes("fresh-19"), 20 * electionTicks, "a's repair")
    expect(cluster.logValues("a")).toEqual(cluster.logValues(leader))
    expect(appliedValues(cluster).some((value) => value.startsWith("stale-"))).toBe(false)
  })

  it("backtracks a whole term per round trip, not one entry", () => {
    // The leader and "g" hold 60 entries of term 3 after a common prefix of 5; "f" holds 60
    // entries of term 2 there instead, none known committed.
    const tail = 60
    const log = (term: number) => [
      ...Array.from({ length: 5 }, (_, k) => ({ index: k + 1, term: 1, type: "normal" as const, data: new Uint8Array([k]) })),
      ...Array.from({ length: tail }, (_, k) => ({ index: k + 6, term, type: "normal" as const, data: new Uint8Array([term, k]) }))
    ]
    const cluster = new Cluster({
      ids: ["leader", "f", "g"],
      seed: 22,
      config: { maxEntriesPerMessage: 8 },
      disks: {
        leader: { hardState: { term: 3, votedFor: null, commit: 0 }, entries: log(3) },
        f: { hardState: { term: 2, votedFor: null, commit: 0 }, entries: log(2) },
        g: { hardState: { term: 3, votedFor: null, commit: 0 }, entries: log(3) }
      }
    })
    cluster.elect("leader")
    cluster.runUntil(() => cluster.status("f").commitIndex === cluster.status("leader").lastIndex, 10 * electionTicks, "f's repair")
    expect(cluster.logValues("f")).toEqual(cluster.logValues("leader"))
    const rejections = cluster.sent.filter((message) => message._tag === "AppendEntriesResponse" && message.from === "f" && !message.success)
    // One entry at a time would take `tail` rejections; skipping by term takes one.
    expect(rejections).toHaveLength(1)
  })

  it("batches by count and bytes and pipelines up to maxInflight messages per follower", () => {
    const cluster = new Cluster({
      ids: ["a", "b", "c"],
      seed: 31,
      config: { maxEntriesPerMessage: 3, maxBytesPerMessage: 250, maxInflight: 2 }
    })
    cluster.elect("a")
    cluster.heartbeat("a")
    expect(followerProgress(cluster.raft("a")).map((progress) => progress.mode)).toEqual(["replicate", "replicate"])
    // Hold every acknowledgement: the leader may have only maxInflight batches out per follower.
    const holdAcks = cluster.addFilter((message) => message.to === "a")
    const mark = cluster.sent.length
    const payload = (k: number) => `${k}`.padEnd(100, ".")
    cluster.input("a", {
      _tag: "Propose",
      id: 1000,
      data: Array.from({ length: 12 }, (_, k) => new TextEncoder().encode(payload(k)))
    })
    const toB = () => cluster.sent.slice(mark).filter((m): m is Extract<Message, { _tag: "AppendEntries" }> => isAppend(m) && m.to === "b" && m.entries.length > 0)
    expect(toB()).toHaveLength(2)
    for (const message of toB()) {
      // 100-byte entries under a 250-byte cap: two per message, below the count cap of three.
      expect(message.entries).toHaveLength(2)
    }
    holdAcks()
    cluster.settle()
    cluster.heartbeat("a")
    const batches = toB()
    expect(batches.flatMap((message) => message.entries.map(valueOf))).toEqual(Array.from({ length: 12 }, (_, k) => payload(k)))
    expect(cluster.node("b").stateMachine.values.slice(-12)).toEqual(Array.from({ length: 12 }, (_, k) => payload(k)))
  })

  it("a probing leader has one AppendEntries out to a follower until it answers", () => {
    const cluster = new Cluster({ ids: ["a", "b", "c"], seed: 32, config: { maxInflight: 4 } })
    // "c" never answers: the leader's first probe to it stays outstanding.
    const silenceC = cluster.addFilter((message) => message.from === "c" && message._tag === "AppendEntriesResponse")
    cluster.elect("a")
    expect(followerProgress(cluster.raft("a")).find((progress) => progress.id === "c")!.mode).toBe("probe")
    const mark = cluster.sent.length
    for (let k = 0; k < 5; k++) {
      cluster.propose("a", `p${k}`)
      cluster.settle()
    }
    cluster.heartbeat("a")
    const withEntries = (to: string) =>
      cluster.sent.slice(mark).filter((message) => isAppend(message) && message.to === to && message.entries.length > 0)
    expect(withEntries("c")).toHaveLength(0)
    expect(withEntries("b").length).toBeGreaterThanOrEqual(5)
    // Once "c" answers (here: a heartbeat), the probe resumes and "c" catches up.
    silenceC()
    cluster.heartbeat("a")
    cluster.heartbeat("a")
    expect(followerProgress(cluster.raft("a")).find((progress) => progress.id === "c")!.mode).toBe("replicate")
    expect(cluster.logValues("c")).toEqual(cluster.logValues("a"))
  })

  it("the leader counts its own log toward commitment only once the layer reported it durable", () => {
    const cluster = new Cluster({ ids: ["a", "b", "c"], seed: 33 })
    cluster.elect("a")
    cluster.heartbeat("a")
    cluster.autoPersist = false
    const accepted = cluster.propose("a", "v")
    expect(accepted._tag).toBe("Accepted")
    const index = accepted._tag === "Accepted" ? accepted.firstIndex : 0
    // One follower acknowledges (as if the write had reached it early): with the leader's own
    // write not yet durable that is one vote of three, not a quorum.
    const term = cluster.status("a").term
    cluster.input("a", {
      _tag: "Receive",
      message: { _tag: "AppendEntriesResponse", from: "b", to: "a", term, success: true, matchIndex: index, conflictIndex: 0, conflictTerm: 0, readContext: 0 }
    })
    expect(cluster.status("a").commitIndex).toBe(index - 1)
    cluster.persist("a")
    expect(cluster.status("a").commitIndex).toBe(index)
  })

  it("a new commit index costs no message of its own: it rides on the next AppendEntries or heartbeat", () => {
    const cluster = new Cluster({ ids: ["a", "b", "c"], seed: 17 })
    cluster.elect("a")
    cluster.settle()
    const sentBefore = cluster.sent.length
    cluster.propose("a", "x")
    cluster.settle()
    const index = cluster.status("a").commitIndex
    expect(cluster.node("a").stateMachine.values).toContain("x")
    // One AppendEntries with the entry per follower, and nothing empty after it commits.
    const appends = cluster.sent.slice(sentBefore).filter(isAppend)
    expect(appends.map((m) => [m.to, m.entries.length])).toEqual([["b", 1], ["c", 1]])
    expect(cluster.status("b").commitIndex).toBeLessThan(index)
    // The next proposal's AppendEntries carries it...
    cluster.propose("a", "y")
    cluster.settle()
    expect(cluster.status("b").commitIndex).toBeGreaterThanOrEqual(index)
    // ...and so does the next heartbeat, when nothing else is sent.
    const last = cluster.status("a").commitIndex
    expect(cluster.status("c").commitIndex).toBeLessThan(last)
    cluster.heartbeat("a")
    expect(cluster.ids.map((id) => cluster.status(id).commitIndex)).toEqual([last, last, last])
  })
})
