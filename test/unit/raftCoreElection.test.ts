/** Elections in the Raft core: one leader, re-election, randomized timeouts, pre-vote, the leader lease, one voter. */
import { describe, expect, it } from "vitest"
import { createRaft, raftStatus, step } from "../../src/raft/core.ts"
import type { RaftConfig } from "../../src/raft/types.ts"
import { Cluster, defaultNodeConfig } from "../support/raftHarness.ts"

const electionTicks = defaultNodeConfig.electionTicks

describe("Raft elections", () => {
  it("elects exactly one leader, which then keeps its term", () => {
    const cluster = new Cluster({ ids: ["a", "b", "c"], seed: 1 })
    cluster.runUntil(() => cluster.leader() !== null, 10 * electionTicks, "a leader")
    const leader = cluster.leader()!
    const term = cluster.status(leader).term
    for (let k = 0; k < 20 * electionTicks; k++) {
      cluster.tickAll()
      cluster.settle()
      expect(cluster.ids.filter((id) => cluster.status(id).role === "leader")).toEqual([leader])
    }
    for (const id of cluster.ids) {
      expect(cluster.status(id).term).toBe(term)
      expect(cluster.status(id).leaderId).toBe(leader)
    }
  })

  it("re-elects after the leader crashes, and the new leader commits", () => {
    const cluster = new Cluster({ ids: ["a", "b", "c", "d", "e"], seed: 2 })
    cluster.runUntil(() => cluster.leader() !== null, 10 * electionTicks, "a leader")
    const old = cluster.leader()!
    const oldTerm = cluster.status(old).term
    cluster.crash(old)
    cluster.runUntil(() => cluster.leader() !== null, 10 * electionTicks, "a new leader")
    const leader = cluster.leader()!
    expect(leader).not.toBe(old)
    expect(cluster.status(leader).term).toBeGreaterThan(oldTerm)
    cluster.propose(leader, "after-crash")
    cluster.runUntil(() => cluster.acknowledged.has("after-crash"), 5 * electionTicks, "the commit")
  })

  it("draws election timeouts in [electionTicks, 2 * electionTicks), differently per seed", () => {
    const timeouts = new Set<number>()
    for (let seed = 0; seed < 50; seed++) {
      const config: RaftConfig = { ...defaultNodeConfig, id: "a", voters: ["a", "b", "c"], seed }
      const raft = createRaft(config, { hardState: { term: 0, votedFor: null, commit: 0 }, snapshot: null, entries: [] }, 0)
      let ticks = 0
      while (raftStatus(raft).role === "follower" && ticks < 10 * electionTicks) {
        step(raft, { _tag: "Tick" })
        ticks++
      }
      expect(ticks).toBeGreaterThanOrEqual(electionTicks)
      expect(ticks).toBeLessThan(2 * electionTicks)
      timeouts.add(ticks)
    }
    expect(timeouts.size).toBeGreaterThan(3)
  })

  it("pre-vote keeps terms stable when a partitioned node rejoins", () => {
    const cluster = new Cluster({ ids: ["a", "b", "c"], seed: 3 })
    cluster.runUntil(() => cluster.leader() !== null, 10 * electionTicks, "a leader")
    const leader = cluster.leader()!
    const term = cluster.status(leader).term
    const outsider = cluster.ids.find((id) => id !== leader)!
    cluster.isolate(outsider)
    let campaigned = false
    for (let k = 0; k < 20 * electionTicks; k++) {
      cluster.tickAll()
      cluster.settle()
      campaigned ||= cluster.status(outsider).role === "precandidate"
      expect(cluster.status(outsider).term).toBe(term)
    }
    expect(campaigned).toBe(true)
    cluster.heal()
    for (let k = 0; k < 10 * electionTicks; k++) {
      cluster.tickAll()
      cluster.settle()
    }
    expect(cluster.leader()).toBe(leader)
    for (const id of cluster.ids) expect(cluster.status(id).term).toBe(term)
    expect(cluster.status(outsider).leaderId).toBe(leader)
  })

  it("without pre-vote the same rejoin does disrupt the leader (control)", () => {
    const cluster = new Cluster({ ids: ["a", "b", "c"], seed: 3, config: { preVote: false } })
    cluster.runUntil(() => cluster.leader() !== null, 10 * electionTicks, "a leader")
    const leader = cluster.leader()!
    const term = cluster.status(leader).term
    const outsider = cluster.ids.find((id) => id !== leader)!
    cluster.isolate(outsider)
    for (let k = 0; k < 20 * electionTicks; k++) {
      cluster.tickAll()
      cluster.settle()
    }
    expect(cluster.status(outsider).term).toBeGreaterThan(term)
    cluster.heal()
    cluster.runUntil(() => cluster.leader() !== null && cluster.status(cluster.leader()!).term > term, 10 * electionTicks, "a new term")
  })

  it("a follower that heard from its leader within the election timeout rejects (pre)votes", () => {
    const cluster = new Cluster({ ids: ["a", "b", "c"], seed: 4 })
    cluster.runUntil(() => cluster.leader() !== null, 10 * electionTicks, "a leader")
    const leader = cluster.leader()!
    const [voter, campaigner] = cluster.ids.filter((id) => id !== leader) as [string, string]
    cluster.heartbeat(leader)
    const term = cluster.status(voter).term
    const last = cluster.status(campaigner)
    for (const _tag of ["PreVote", "RequestVote"] as const) {
      const output = cluster.input(voter, {
        _tag: "Receive",
        message: { _tag, from: campaigner, to: voter, term: term + 1, lastLogIndex: last.lastIndex + 5, lastLogTerm: term }
      })
      expect(output.messages).toEqual([
        expect.objectContaining({ _tag: `${_tag}Response`, granted: false, term, to: campaigner })
      ])
      expect(cluster.status(voter).term).toBe(term)
      expect(cluster.status(voter).leaderId).toBe(leader)
    }
  })

  it("a single-voter cluster elects itself and commits once its own log is durable", () => {
    const cluster = new Cluster({ ids: ["solo"], seed: 5, autoPersist: false })
    for (let k = 0; k < 2 * electionTicks && cluster.status("solo").role !== "leader"; k++) cluster.tick("solo")
    expect(cluster.status("solo").role).toBe("leader")
    cluster.persist("solo")
    const accepted = cluster.propose("solo", "alone")
    expect(accepted._tag).toBe("Accepted")
    const queued = cluster.node("solo").queue
    expect(queued.at(-1)!.entries.map((entry) => entry.index)).toEqual([2])
    // Not committed before the layer reports the entry durable.
    expect(cluster.status("solo").commitIndex).toBe(1)
    cluster.persist("solo")
    expect(cluster.status("solo").commitIndex).toBe(2)
    expect(cluster.node("solo").stateMachine.values).toEqual(["", "alone"])
  })
})
