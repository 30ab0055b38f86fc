import { describe, expect, it } from "@effect/vitest"
import { Effect, Fiber, TestClock } from "effect"
import { makeCommitNotices } from "../../layers/transaction/commitNotices.ts"
import type { ChunkUpdate } from "../../src/domain/commands.ts"
import { IoError, Unavailable } from "../../src/domain/errors.ts"
import type { ChunkPeersShape, PeerChunkStore } from "../../src/services/ChunkPeers.ts"

const update = (versionId: string, nodes: ReadonlyArray<string>): ChunkUpdate => ({
  expectedVersionId: null,
  expectedLength: 0,
  chunk: { index: 0, versionId, storedLength: 1, length: 1, checksum: 0, nodes: [...nodes] }
})

/** Peers whose commit requests are recorded; `failing` nodes fail them, `unreachable` ones cannot be reached. */
const recordingPeers = (failing: ReadonlyArray<string> = [], unreachable: ReadonlyArray<string> = []) => {
  const requests: Array<{ node: string; versionIds: ReadonlyArray<string> }> = []
  const store = (node: string): PeerChunkStore => ({
    stage: () => Effect.dieMessage("unused"),
    stagePatch: () => Effect.dieMessage("unused"),
    repair: () => Effect.dieMessage("unused"),
    abort: () => Effect.dieMessage("unused"),
    read: () => Effect.dieMessage("unused"),
    remove: () => Effect.dieMessage("unused"),
    list: Effect.dieMessage("unused"),
    commit: (versionIds) =>
      Effect.suspend(() => {
        requests.push({ node, versionIds: [...versionIds] })
        return failing.includes(node) ? Effect.fail(new IoError({ message: "disk gone" })) : Effect.void
      })
  })
  const peers: ChunkPeersShape = {
    selfId: "n1",
    forNode: (node) => {
      const id = typeof node === "string" ? node : node.id
      return unreachable.includes(id) ? Effect.fail(new Unavailable({ message: `${id} is down` })) : Effect.succeed(store(id))
    }
  }
  return { peers, requests }
}

const byNode = (requests: ReadonlyArray<{ node: string; versionIds: ReadonlyArray<string> }>) =>
  [...requests].sort((a, b) => (a.node < b.node ? -1 : 1))

describe("commit notices", () => {
  it.scoped("sends nothing until the linger passes, then one request per node with every version noticed meanwhile", () =>
    Effect.gen(function*() {
      const { peers, requests } = recordingPeers()
      const notices = yield* makeCommitNotices(peers, { linger: "10 millis" })
      yield* notices.send([update("a", ["n1", "n2", "n3"])])
      yield* notices.send([update("b", ["n1", "n2"]), update("c", ["n3"])])
      yield* TestClock.adjust("9 millis")
      expect(requests).toEqual([])
      yield* TestClock.adjust("1 millis")
      expect(byNode(requests)).toEqual([
        { node: "n1", versionIds: ["a", "b"] },
        { node: "n2", versionIds: ["a", "b"] },
        { node: "n3", versionIds: ["a", "c"] }
      ])
      // Later notices make a new batch.
      yield* notices.send([update("d", ["n2"])])
      yield* TestClock.adjust("10 millis")
      expect(requests.slice(3)).toEqual([{ node: "n2", versionIds: ["d"] }])
    }))

  it.scoped("a node that fails or cannot be reached neither blocks the others nor stops later batches", () =>
    Effect.gen(function*() {
      const { peers, requests } = recordingPeers(["n2"], ["n3"])
      const notices = yield* makeCommitNotices(peers, { linger: "1 millis" })
      yield* notices.send([update("a", ["n1", "n2", "n3"])])
      yield* TestClock.adjust("1 millis")
      yield* notices.send([update("b", ["n1", "n2", "n3"])])
      yield* TestClock.adjust("1 millis")
      expect(byNode(requests)).toEqual([
        { node: "n1", versionIds: ["a"] },
        { node: "n1", versionIds: ["b"] },
        { node: "n2", versionIds: ["a"] },
        { node: "n2", versionIds: ["b"] }
      ])
    }))

  it.scoped("drops notices beyond its bound rather than grow (the collector finalizes those)", () =>
    Effect.gen(function*() {
      const { peers, requests } = recordingPeers()
      const notices = yield* makeCommitNotices(peers, { linger: "5 millis", maxPending: 4 })
      const sending = yield* Effect.fork(Effect.forEach(["a", "b", "c"], (id) => notices.send([update(id, ["n1", "n2"])])))
      yield* Fiber.join(sending)
      yield* TestClock.adjust("5 millis")
      expect(byNode(requests)).toEqual([
        { node: "n1", versionIds: ["a", "b"] },
        { node: "n2", versionIds: ["a", "b"] }
      ])
      // The bound is on what waits: once sent, there is room again.
      yield* notices.send([update("d", ["n1"])])
      yield* TestClock.adjust("5 millis")
      expect(requests.slice(2)).toEqual([{ node: "n1", versionIds: ["d"] }])
    }))
})
