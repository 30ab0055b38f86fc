/** Log compaction and chunked, resumable InstallSnapshot in the Raft core. */
import { describe, expect, it } from "vitest"
import { entriesAfter, latestSnapshot, logTerm, step } from "../../src/raft/core.ts"
import type { Message, NodeId } from "../../src/raft/types.ts"
import { Cluster, defaultNodeConfig } from "../support/raftHarness.ts"

const electionTicks = defaultNodeConfig.electionTicks

type InstallSnapshot = Extract<Message, { _tag: "InstallSnapshot" }>

const chunksTo = (messages: ReadonlyArray<Message>, to: NodeId): Array<InstallSnapshot> =>
  messages.filter((message): message is InstallSnapshot => message._tag === "InstallSnapshot" && message.to === to)

/** "a" leads with 16-byte snapshot chunks, `maxInflight` at once; "c" is cut off after the first ten entries and misses ten more. */
const cWithoutTenEntries = (seed: number, maxInflight = 2): Cluster => {
  const cluster = new Cluster({ ids: ["a", "b", "c"], seed, config: { snapshotChunkBytes: 16, maxInflight } })
  cluster.elect("a")
  for (let k = 0; k < 10; k++) cluster.propose("a", `first-${k}`)
  cluster.heartbeat("a")
  cluster.isolate("c")
  for (let k = 0; k < 10; k++) cluster.propose("a", `second-${k}`)
  cluster.heartbeat("a")
  return cluster
}

/**
 * "a" offers a snapshot and starts sending it to "c", which hears the chunks (and answers
 * heartbeats) while its snapshot answers are lost, so the transfer cannot finish until `unmute`.
 */
const transferStuckAtC = (seed: number) => {
  const cluster = cWithoutTenEntries(seed)
  const sending = cluster.compact("a")
  const unmute = cluster.addFilter((message) => message.from === "c" && message._tag === "InstallSnapshotResponse")
  cluster.heal()
  cluster.heartbeat("a")
  cluster.heartbeat("a")
  return { cluster, sending, unmute }
}

describe("Raft snapshots", () => {
  it("compaction discards the log prefix up to the snapshot, and only up to what was applied", () => {
    const cluster = new Cluster({ ids: ["a", "b", "c"], seed: 51 })
    cluster.elect("a")
    for (let k = 0; k < 10; k++) cluster.propose("a", `v${k}`)
    cluster.heartbeat("a")
    const raft = cluster.raft("a")
    const before = cluster.status("a")
    // Above the applied index, or with the wrong term: ignored.
    step(raft, { _tag: "Compact", index: before.appliedIndex + 1, term: before.term })
    step(raft, { _tag: "Compact", index: 5, term: before.term + 1 })
    expect(cluster.status("a").snapshotIndex).toBe(0)
    const snapshot = cluster.compact("a")
    expect(snapshot.index).toBe(before.appliedIndex)
    cluster.propose("a", "after")
    const after = cluster.status("a")
    expect(after.snapshotIndex).toBe(snapshot.index)
    expect(after.firstIndex).toBe(snapshot.index + 1)
    expect(logTerm(raft, snapshot.index)).toBe(snapshot.term)
    expect(logTerm(raft, snapshot.index - 1)).toBeUndefined()
    expect(entriesAfter(raft, 0).map((entry) => entry.index)).toEqual([snapshot.index + 1])
    expect(latestSnapshot(raft)).toBe(snapshot)
  })

  it("a far-behind follower catches up by chunked snapshot, resuming from its offset after a lost chunk", () => {
    // "a" leads, is cut off with proposals nobody else sees, and the others move on far
    // enough that the entries it needs are compacted away.
    const cluster = new Cluster({
      ids: ["a", "b", "c"],
      seed: 52,
      snapshotEvery: 10,
      config: { snapshotChunkBytes: 32, maxInflight: 2 }
    })
    cluster.elect("a")
    cluster.propose("a", "common")
    cluster.heartbeat("a")
    cluster.isolate("a")
    cluster.propose("a", "stale")
    cluster.runUntil(() => cluster.leader() === "b" || cluster.leader() === "c", 20 * electionTicks, "a second leader")
    const leader = cluster.leader()!
    for (let k = 0; k < 30; k++) cluster.propose(leader, `value-${k}`)
    cluster.runUntil(() => cluster.acknowledged.has("value-29"), 20 * electionTicks, "the new leader's commits")
    const snapshotIndex = cluster.status(leader).snapshotIndex
    expect(snapshotIndex).toBeGreaterThan(cluster.status("a").lastIndex)
    let dropped: InstallSnapshot | null = null
    cluster.addFilter((message) => {
      if (dropped !== null || message._tag !== "InstallSnapshot" || message.to !== "a" || message.offset !== 64) return false
      dropped = message
      return true
    })
    const mark = cluster.sent.length
    cluster.heal()
    cluster.runUntil(() => cluster.node("a").stateMachine.values.includes("value-29"), 20 * electionTicks, "a's catch-up")
    const chunks = chunksTo(cluster.sent.slice(mark), "a").filter((chunk) => chunk.snapshotIndex === snapshotIndex)
    expect(dropped).not.toBeNull()
    expect(chunks.length).toBeGreaterThan(3)
    for (const chunk of chunks) expect(chunk.data.byteLength).toBeLessThanOrEqual(32)
    // The lost chunk was sent again; the transfer resumed rather than starting over.
    expect(chunks.filter((chunk) => chunk.offset === 64).length).toBeGreaterThanOrEqual(2)
    expect(chunks.filter((chunk) => chunk.offset === 0)).toHaveLength(1)
    const answers = cluster.sent.slice(mark).filter((message) => message._tag === "InstallSnapshotResponse" && message.from === "a")
    expect(answers.some((answer) => answer._tag === "InstallSnapshotResponse" && answer.nextOffset === 64 && !answer.done)).toBe(true)
    // "a" installed the snapshot in place of its conflicting log and applied nothing of its own.
    const installed = cluster.node("a").outputs.filter((output) => output.snapshot !== null)
    expect(installed.map((output) => output.snapshot!.index)).toEqual([snapshotIndex])
    expect(cluster.node("a").stateMachine.values).toEqual(cluster.node(leader).stateMachine.values)
    expect(cluster.node("a").stateMachine.values).not.toContain("stale")
    expect(cluster.logValues("a")).not.toContain("stale")
  })

  it("a log compacted with no snapshot asks the layer for one when a follower falls behind it, and streams the one offered", () => {
    const cluster = cWithoutTenEntries(54)
    const raft = cluster.raft("a")
    const at = cluster.status("a").appliedIndex
    // The state machine holds everything up to `at`: the log goes, and no snapshot bytes come with that.
    cluster.input("a", { _tag: "Compact", index: at, term: logTerm(raft, at)! })
    expect(cluster.status("a").snapshotIndex).toBe(at)
    expect(latestSnapshot(raft)).toBeNull()

    cluster.heal()
    for (let k = 0; k < 3; k++) {
      cluster.heartbeat("a")
      cluster.settle()
    }
    expect(cluster.node("a").outputs.some((output) => output.snapshotWanted)).toBe(true)
    expect(chunksTo(cluster.sent, "c")).toHaveLength(0)

    // The layer offers one (here at the compaction point: nothing was applied since).
    const offered = cluster.compact("a")
    expect(offered.index).toBe(at)
    expect(latestSnapshot(raft)).toBe(offered)
    cluster.runUntil(() => cluster.node("c").stateMachine.values.includes("second-9"), 20 * electionTicks, "c's catch-up")
    const installed = cluster.node("c").outputs.filter((output) => output.snapshot !== null).map((output) => output.snapshot!.index)
    expect(installed).toEqual([at])
    // A later compaction past the offered snapshot forgets it: it could not bring anyone up to the log.
    for (let k = 0; k < 3; k++) cluster.propose("a", `third-${k}`)
    cluster.settle()
    const later = cluster.status("a").appliedIndex
    cluster.input("a", { _tag: "Compact", index: later, term: logTerm(raft, later)! })
    expect(latestSnapshot(raft)).toBeNull()
  })

  it("a follower that stops answering mid-transfer is sent one chunk per heartbeat, not the window again", () => {
    const cluster = cWithoutTenEntries(55, 4)
    cluster.compact("a")
    // "c" takes the chunks but answers none (as while it installs a large snapshot).
    cluster.addFilter((message) => message.from === "c" && message._tag === "InstallSnapshotResponse")
    cluster.heal()
    cluster.heartbeat("a")
    cluster.settle()
    expect(chunksTo(cluster.sent, "c")).toHaveLength(4)
    // The first heartbeat notes where the transfer stands; from then on each finds no progress.
    cluster.heartbeat("a")
    cluster.settle()
    for (let beat = 0; beat < 5; beat++) {
      const before = chunksTo(cluster.sent, "c").length
      cluster.heartbeat("a")
      cluster.settle()
      expect(chunksTo(cluster.sent, "c").length - before).toBe(1)
    }
  })

  it("a newer snapshot restarts a transfer in progress", () => {
    const { cluster, sending: older, unmute: muteC } = transferStuckAtC(53)
    expect(chunksTo(cluster.sent, "c").every((chunk) => chunk.snapshotIndex === older.index)).toBe(true)
    expect(chunksTo(cluster.sent, "c").length).toBeGreaterThan(0)
    for (let k = 0; k < 5; k++) cluster.propose("a", `third-${k}`)
    cluster.settle()
    const mark = cluster.sent.length
    const newer = cluster.compact("a")
    expect(newer.index).toBeGreaterThan(older.index)
    const restarted = chunksTo(cluster.sent.slice(mark), "c")
    expect(restarted[0]).toMatchObject({ snapshotIndex: newer.index, offset: 0 })
    muteC()
    cluster.runUntil(() => cluster.node("c").stateMachine.values.includes("third-4"), 20 * electionTicks, "c's catch-up")
    const installed = cluster.node("c").outputs.filter((output) => output.snapshot !== null).map((output) => output.snapshot!.index)
    expect(installed).toEqual([newer.index])
  })

  it("a compaction while a snapshot is on its way to a live follower keeps the log after it: the follower catches up from the log", () => {
    const { cluster, sending, unmute: muteC } = transferStuckAtC(56)
    for (let k = 0; k < 5; k++) cluster.propose("a", `third-${k}`)
    cluster.settle()
    const raft = cluster.raft("a")
    const applied = cluster.status("a").appliedIndex
    expect(applied).toBeGreaterThan(sending.index)
    cluster.input("a", { _tag: "Compact", index: applied, term: logTerm(raft, applied)! })
    expect(cluster.status("a").snapshotIndex).toBe(sending.index)
    expect(latestSnapshot(raft)).toBe(sending)
    muteC()
    cluster.runUntil(() => cluster.node("c").stateMachine.values.includes("third-4"), 20 * electionTicks, "c's catch-up")
    const installed = cluster.node("c").outputs.filter((output) => output.snapshot !== null).map((output) => output.snapshot!.index)
    expect(installed).toEqual([sending.index])
    expect(cluster.node("a").outputs.some((output) => output.snapshotWanted)).toBe(false)
    // The transfer is over: the log is compacted as asked again.
    cluster.input("a", { _tag: "Compact", index: applied, term: logTerm(raft, applied)! })
    expect(cluster.status("a").snapshotIndex).toBe(applied)
  })

  it("a follower gone silent mid-transfer stops holding the log back", () => {
    const cluster = cWithoutTenEntries(57)
    const sending = cluster.compact("a")
    cluster.heal()
    cluster.heartbeat("a")
    expect(chunksTo(cluster.sent, "c").length).toBeGreaterThan(0)
    cluster.isolate("c")
    for (let k = 0; k < 5; k++) cluster.propose("a", `third-${k}`)
    // Two check-quorum periods without a word from "c".
    for (let tick = 0; tick < 2 * electionTicks + 1; tick++) {
      cluster.tick("a")
      cluster.settle()
    }
    expect(cluster.leader()).toBe("a")
    const raft = cluster.raft("a")
    const applied = cluster.status("a").appliedIndex
    cluster.input("a", { _tag: "Compact", index: applied, term: logTerm(raft, applied)! })
    expect(cluster.status("a").snapshotIndex).toBe(applied)
    expect(applied).toBeGreaterThan(sending.index)
  })
})
