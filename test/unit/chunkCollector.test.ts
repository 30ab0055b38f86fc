import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Layer, type Scope, TestClock } from "effect"
import { ChunkCollector, ORPHAN_GRACE_MILLIS } from "../../layers/orchestrators/chunkCollector.ts"
import { ROOT_INODE } from "../../src/domain/fs.ts"
import { formatVersionId } from "../../src/domain/versionId.ts"
import { crc32c } from "../../src/lib/crc32c.ts"
import { ChunkService } from "../../src/services/ChunkService.ts"
import { ControlPlaneOrchestrator } from "../../src/services/ControlPlaneOrchestrator.ts"
import { DataPlaneOrchestrator } from "../../src/services/DataPlaneOrchestrator.ts"
import { MetadataReplicator } from "../../src/services/MetadataReplicator.ts"
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
