/**
 * The chunk collector: a supervised background fiber that deletes chunk versions no file
 * references any more (removed files, overwritten or truncated-away chunks) from every node
 * that holds them, then records through the log that they are gone. Only the leader collects;
 * a version is forgotten only after every holder confirmed its removal, so a node that was down
 * is retried on the next sweep.
 */
import { Duration, Effect, Layer, Schedule } from "effect"
import { ChunkPeers } from "../../src/services/ChunkPeers.ts"
import { MetadataReplicator } from "../../src/services/MetadataReplicator.ts"
import { MetadataService } from "../../src/services/MetadataService.ts"

export interface ChunkCollectorOptions {
  readonly interval?: Duration.DurationInput
  /** Versions examined per sweep. */
  readonly batch?: number
}

export const ChunkCollector = (options: ChunkCollectorOptions = {}) =>
  Layer.scopedDiscard(
    Effect.gen(function*() {
      const metadata = yield* MetadataService
      const replicator = yield* MetadataReplicator
      const peers = yield* ChunkPeers

      const removeEverywhere = (versionId: string, nodes: ReadonlyArray<string>) =>
        Effect.forEach(nodes, (node) => Effect.flatMap(peers.forNode(node), (store) => store.remove(versionId)), {
          concurrency: "unbounded",
          discard: true
        }).pipe(Effect.as(true), Effect.catchAll(() => Effect.succeed(false)))

      const sweep = Effect.gen(function*() {
        const status = yield* replicator.status
        if (status.role !== "leader" && status.role !== "standalone") return
        const garbage = yield* replicator.linearizable(metadata.garbage(options.batch ?? 256))
        if (garbage.length === 0) return
        const removed = yield* Effect.filter(garbage, (ref) => removeEverywhere(ref.versionId, ref.nodes), { concurrency: 8 })
        if (removed.length === 0) return
        yield* replicator.propose({ _tag: "ForgetGarbage", versionIds: removed.map((r) => r.versionId) }, null)
        yield* Effect.logDebug(`chunk collector removed ${removed.length} unreferenced versions`)
      })

      yield* sweep.pipe(
        Effect.catchAllCause((cause) => Effect.logWarning("chunk collector sweep failed; retrying next round", cause)),
        Effect.repeat(Schedule.spaced(options.interval ?? Duration.seconds(5))),
        Effect.forkScoped
      )
    })
  )
