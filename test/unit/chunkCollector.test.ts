import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Layer, type Scope, TestClock } from "effect"
import { ChunkCollector, ORPHAN_GRACE_MILLIS } from "../../layers/orchestrators/chunkCollector.ts"
import { ROOT_INODE } from "../../src/domain/fs.ts"
import { formatVersionId } from "../../src/domain/versionId.ts"
import { crc32c } from "../../src/lib/crc32c.ts"
import type { MetadataCommand } from "../../src/domain/commands.ts"
import { Unavailable } from "../../src/domain/errors.ts"
import { ChunkPeers, type ChunkPeersShape, type PeerChunkStore } from "../../src/services/ChunkPeers.ts"
import { ChunkService } from "../../src/services/ChunkService.ts"
import { ClusterService, type ClusterServiceShape } from "../../src/services/ClusterService.ts"
import { ControlPlaneOrchestrator } from "../../src/services/ControlPlaneOrchestrator.ts"
import { DataPlaneOrchestrator } from "../../src/services/DataPlaneOrchestrator.ts"
import { MetadataReplicator, type MetadataReplicatorShape } from "../../src/services/MetadataReplicator.ts"
import { MetadataService, type MetadataServiceShape } from "../../src/services/MetadataService.ts"
import { StandaloneServices } from "../../topologies/standalone.ts"
import { patternBytes } from "../support/bytes.ts"
import { tempDir } from "../support/tempDir.ts"

type NodeServices = Layer.Layer.Success<ReturnType<typeof StandaloneServices>>

const withNode = <A, E>(body: Effect.Effect<A, E, NodeServices | Scope.Scope>) =>
  Effect.gen(function*() {
    const dir = yield* tempDir()
    const context = yield* Layer.build(StandaloneServices({ nodeId: "n1", dataDir: dir, chunkSize: 64 * 1024 }))
    return yield* Effect.provide(body, context)
  })

/** Wait (in real time: the collector does real disk I/O) until `check` holds. */
const eventually = <E, R>(check: Effect.Effect<boolean, E, R>) =>
  Effect.gen(function*() {
    for (let i = 0; i < 2000; i++) {
      if (yield* check) return
      yield* Effect.promise(() => new Promise((resolve) => setTimeout(resolve, 5)))
    }
    return yield* Effect.dieMessage("condition never held")
  })

describe("chunk collector reconciliation", () => {
  it.scoped("finalizes staged versions that metadata references and deletes orphans only after the grace", () =>
    withNode(Effect.gen(function*() {
      const chunks = yield* ChunkService
      const control = yield* ControlPlaneOrchestrator
      const data = yield* DataPlaneOrchestrator
      const replicator = yield* MetadataReplicator
      const file = yield* control.create({ parent: ROOT_INODE, name: "f", mode: 0o644, uid: 0, gid: 0, exclusive: true }, null)
      yield* data.write(file.inode, 0, patternBytes(100, 1), null)

      // An in-doubt participant: the version committed in metadata but was never finalized here.
      const inDoubt = formatVersionId({ inode: file.inode, index: 1, createdAt: 0, nonce: "aa" })
      const bytes = patternBytes(10, 2)
      yield* chunks.stage(inDoubt, bytes, crc32c(bytes))
      yield* replicator.propose({
        _tag: "CommitWrite", inode: file.inode, txId: "t", end: 64 * 1024 + 10, now: 0,
        updates: [{ expectedVersionId: null, expectedLength: 0, chunk: { index: 1, versionId: inDoubt, storedLength: 10, length: 10, checksum: crc32c(bytes), nodes: ["n1"] } }]
      })
      // An orphan: staged by a transaction that never committed.
      const orphan = formatVersionId({ inode: file.inode, index: 2, createdAt: 0, nonce: "bb" })
      yield* chunks.stage(orphan, bytes, crc32c(bytes))

      yield* Layer.build(ChunkCollector({ interval: "1 hour", orphanInterval: "1 minute" }))
      yield* eventually(Effect.map(chunks.list, (l) => l.committed.includes(inDoubt)))
      expect((yield* chunks.list).staged).toContain(orphan) // too young to be called an orphan

      // Past the grace, a later reconciliation round deletes it (let simulated minutes pass).
      yield* TestClock.adjust(Duration.millis(ORPHAN_GRACE_MILLIS))
      yield* eventually(Effect.zipRight(TestClock.adjust("1 minute"), Effect.map(chunks.list, (l) => !l.staged.includes(orphan))))
      const after = yield* chunks.list
      expect(after.committed).toContain(inDoubt)
      expect(after.committed.length).toBe(2) // the written chunk and the finalized one
      expect(yield* data.read(file.inode, 64 * 1024, 10)).toEqual(bytes)
    })))
})

describe("chunk collector garbage", () => {
  const ref = (versionId: string, nodes: ReadonlyArray<string>) => ({
    index: 0, versionId, storedLength: 1, length: 1, checksum: 0, nodes: [...nodes]
  })

  it.scoped("deletes a sweep's garbage with one request per holder and forgets only what every holder confirmed", () =>
    Effect.gen(function*() {
      let garbage = [ref("v1", ["a", "b"]), ref("v2", ["b", "c"]), ref("v3", ["c"])]
      const requests: Array<[string, ReadonlyArray<string>]> = []
      const forgotten: Array<ReadonlyArray<string>> = []
      let cDown = true
      const store = (node: string) => ({
        remove: (versionIds: ReadonlyArray<string>) =>
          Effect.suspend(() => {
            requests.push([node, versionIds])
            return node === "c" && cDown ? Effect.fail(new Unavailable({ message: "c is down" })) : Effect.void
          })
      }) as unknown as PeerChunkStore
      const fakes = Layer.mergeAll(
        Layer.succeed(MetadataService, { garbage: () => Effect.sync(() => garbage) } as unknown as MetadataServiceShape),
        Layer.succeed(MetadataReplicator, {
          status: Effect.succeed({ role: "leader" }),
          propose: (command: MetadataCommand) =>
            Effect.sync(() => {
              if (command._tag !== "ForgetGarbage") return
              forgotten.push(command.versionIds)
              garbage = garbage.filter((r) => !command.versionIds.includes(r.versionId))
            })
        } as unknown as MetadataReplicatorShape),
        Layer.succeed(ChunkPeers, { selfId: "a", forNode: (node: string) => Effect.succeed(store(node)) } as unknown as ChunkPeersShape),
        Layer.succeed(ClusterService, { members: Effect.succeed([]) } as unknown as ClusterServiceShape)
      )
      yield* Layer.build(ChunkCollector({ interval: "1 second", orphanInterval: "1 hour" }).pipe(Layer.provide(fakes)))

      yield* TestClock.adjust("1 millis")
      expect(requests.map(([node, ids]) => `${node}:${ids.join(",")}`).sort()).toEqual(["a:v1", "b:v1,v2", "c:v2,v3"])
      expect(forgotten).toEqual([["v1"]])

      cDown = false
      requests.length = 0
      yield* TestClock.adjust("1 second")
      expect(requests.map(([node, ids]) => `${node}:${ids.join(",")}`).sort()).toEqual(["b:v2", "c:v2,v3"])
      expect(forgotten).toEqual([["v1"], ["v2", "v3"]])
    }))
})
