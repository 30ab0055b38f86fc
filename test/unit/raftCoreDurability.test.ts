/** Restarts of the Raft core from durable state only: nothing applied twice, nothing acknowledged lost. */
import { describe, expect, it } from "vitest"
import { createRaft, raftStatus, step } from "../../src/raft/core.ts"
import type { Entry, RaftConfig } from "../../src/raft/types.ts"
import { Cluster, defaultNodeConfig } from "../support/raftHarness.ts"

const electionTicks = defaultNodeConfig.electionTicks

const entries = (count: number): Array<Entry> =>
  Array.from({ length: count }, (_, k) => ({ index: k + 1, term: 1, type: "normal" as const, data: new Uint8Array([k]) }))

const config: RaftConfig = { ...defaultNodeConfig, id: "a", voters: ["a", "b", "c"], seed: 1 }

describe("Raft restarts", () => {
  it("outputs committed entries above the state machine's applied index once, and none below it", () => {
    const raft = createRaft(config, { hardState: { term: 1, votedFor: null, commit: 8 }, snapshot: null, entries: entries(8) }, 5)
    expect(step(raft, { _tag: "Tick" }).committed.map((entry) => entry.index)).toEqual([6, 7, 8])
    expect(step(raft, { _tag: "Tick" }).committed).toEqual([])
    const caughtUp = createRaft(config, { hardState: { term: 1, votedFor: null, commit: 8 }, snapshot: null, entries: entries(8) }, 8)
    expect(step(caughtUp, { _tag: "Tick" }).committed).toEqual([])
  })

  it("trusts the applied index as committed when the persisted commit index lags it", () => {
    const raft = createRaft(config, { hardState: { term: 1, votedFor: null, commit: 3 }, snapshot: null, entries: entries(8) }, 5)
    expect(raftStatus(raft).commitIndex).toBe(5)
    expect(step(raft, { _tag: "Tick" }).committed).toEqual([])
  })

  it("a restarted follower rejoins from its persisted state without applying anything twice", () => {
    const cluster = new Cluster({ ids: ["a", "b", "c"], seed: 61 })
    cluster.elect("a")
    for (let k = 0; k < 10; k++) cluster.propose("a", `before-${k}`)
    // The entries commit once their acknowledgments are in; the next heartbeat carries the commit.
    cluster.settle()
    cluster.heartbeat("a")
    const appliedAtCrash = cluster.node("c").stateMachine.appliedIndex
    expect(appliedAtCrash).toBe(11)
    cluster.crash("c")
    for (let k = 0; k < 10; k++) cluster.propose("a", `while-down-${k}`)
    cluster.heartbeat("a")
    cluster.restart("c")
    cluster.runUntil(() => cluster.node("c").stateMachine.values.includes("while-down-9"), 10 * electionTicks, "c's catch-up")
    const reapplied = cluster.node("c").outputs.flatMap((output) => output.committed).map((entry) => entry.index)
    expect(reapplied.length).toBe(10)
    expect(Math.min(...reapplied)).toBe(appliedAtCrash + 1)
    expect(cluster.node("c").stateMachine.values).toEqual(cluster.node("a").stateMachine.values)
  })

  it("a single node that crashes before its write is durable loses only the unacknowledged entry", () => {
    const cluster = new Cluster({ ids: ["solo"], seed: 62, autoPersist: false })
    const lead = () => {
      for (let k = 0; k < 2 * electionTicks && cluster.status("solo").role !== "leader"; k++) cluster.tick("solo")
      cluster.persist("solo")
    }
    lead()
    cluster.propose("solo", "kept")
    cluster.persist("solo")
    expect(cluster.acknowledged.get("kept")).toBe(2)
    // The write of "lost" was asked for, but the node died before it was durable.
    cluster.propose("solo", "lost")
    expect(cluster.status("solo").lastIndex).toBe(3)
    cluster.crash("solo")
    cluster.restart("solo")
    expect(cluster.acknowledged.has("lost")).toBe(false)
    expect(cluster.logValues("solo")).toEqual(["", "kept"])
    lead()
    cluster.propose("solo", "next")
    cluster.persist("solo")
    expect(cluster.node("solo").stateMachine.values).toEqual(["", "kept", "", "next"])
  })

  it("a leader that crashes before its write is durable sent nothing, so the cluster moves on without it", () => {
    const cluster = new Cluster({ ids: ["a", "b", "c"], seed: 63 })
    cluster.elect("a")
    cluster.propose("a", "kept")
    cluster.heartbeat("a")
    expect(cluster.acknowledged.has("kept")).toBe(true)
    cluster.autoPersist = false
    cluster.propose("a", "lost")
    cluster.crash("a")
    cluster.autoPersist = true
    cluster.runUntil(() => cluster.leader() !== null, 20 * electionTicks, "a new leader")
    cluster.propose(cluster.leader()!, "after")
    cluster.runUntil(() => cluster.acknowledged.has("after"), 10 * electionTicks, "the new leader's commit")
    cluster.restart("a")
    cluster.runUntil(() => cluster.node("a").stateMachine.values.includes("after"), 10 * electionTicks, "a's catch-up")
    for (const id of cluster.ids) {
      expect(cluster.node(id).stateMachine.values).toContain("kept")
      expect(cluster.logValues(id)).not.toContain("lost")
    }
  })
})

describe("a follower that lost its state", () => {
  it("catches up from the leader that kept leading (its empty-log rejection is not taken as stale)", () => {
    const cluster = new Cluster({ ids: ["a", "b", "c"], seed: 63 })
    cluster.elect("a")
    for (let k = 0; k < 10; k++) cluster.propose("a", `v-${k}`)
    cluster.heartbeat("a")
    cluster.crash("c")
    // A rebuilt node: same term and vote (it must not vote again), empty log and state machine.
    const node = cluster.node("c")
    node.disk.entries = []
    node.disk.snapshot = null
    node.disk.hardState = { ...node.disk.hardState, commit: 0 }
    Object.assign(node.stateMachine, { appliedIndex: 0, appliedTerm: 0, values: [] })
    cluster.restart("c")
    cluster.propose("a", "after")
    cluster.runUntil(() => node.stateMachine.values.includes("after"), 20 * electionTicks, "c's catch-up from scratch")
    expect(node.stateMachine.values).toEqual(cluster.node("a").stateMachine.values)
  })
})
