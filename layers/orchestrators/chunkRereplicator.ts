/**
 * The chunk re-replicator: a supervised background fiber on the leader that brings chunks back
 * to their replication factor when a node is gone. A node the membership has seen down for
 * longer than `downAfter` is taken as gone: each chunk with a copy on it gets a new copy on a
 * live node that holds none (fetched from a live holder, checked against the metadata's
 * checksum, staged and committed there), and a MoveReplica entry names the new holder in place
 * of the gone one. If the node comes back, its copies are surplus, and the chunk collector
 * deletes them.
 */
import { Clock, Duration, Effect, Layer } from "effect"
import type { NodeInfo } from "../../src/domain/cluster.ts"
import { Unavailable } from "../../src/domain/errors.ts"
import type { ChunkRef, InodeId } from "../../src/domain/fs.ts"
import { ChunkPeers } from "../../src/services/ChunkPeers.ts"
import { ClusterService } from "../../src/services/ClusterService.ts"
import { MetadataReplicator } from "../../src/services/MetadataReplicator.ts"
import { MetadataService } from "../../src/services/MetadataService.ts"
import { forEachChunk } from "./chunkWalk.ts"
import { supervisedLoop } from "./supervisedLoop.ts"
import { goodCopy } from "./replicaRepair.ts"

export interface ChunkRereplicatorOptions {
  /** How long a node must be seen down before its chunks are copied elsewhere (default 10 minutes). */
  readonly downAfter?: Duration.DurationInput
  /** How often the leader looks for gone nodes (default 5 seconds). */
  readonly interval?: Duration.DurationInput
}

/** A stable, spread-out choice among candidates: the same chunk always prefers the same node. */
const preferred = (versionId: string, candidates: ReadonlyArray<NodeInfo>): NodeInfo | undefined => {
  const score = (node: NodeInfo) => {
    let hash = 2166136261
    for (const c of `${versionId}/${node.id}`) hash = Math.imul(hash ^ c.charCodeAt(0), 16777619) >>> 0
    return hash
  }
  return [...candidates].sort((a, b) => score(a) - score(b))[0]
}

export const ChunkRereplicator = (options: ChunkRereplicatorOptions = {}) =>
  Layer.scopedDiscard(
    Effect.gen(function*() {
      const metadata = yield* MetadataService
      const replicator = yield* MetadataReplicator
      const peers = yield* ChunkPeers
      const cluster = yield* ClusterService
      const downAfterMillis = Duration.toMillis(Duration.decode(options.downAfter ?? Duration.minutes(10)))
      /** When this leader first saw each node down. */
      const downSince = new Map<string, number>()

      /**
       * The membership (who is gone, who is alive) for which the last sweep found chunks to move
       * but nowhere to move them: sweeping again before it changes would only walk the whole
       * metadata and say the same thing (a 3-node cluster with 3 copies has nowhere to copy to).
       */
      let fruitless: string | null = null

      /**
       * Copy `chunk` from its live holders to a live node without it, and record the move from
       * `gone`: the chunk as it now is, or null when every live node already holds it.
       */
      const move = (inode: InodeId, chunk: ChunkRef, gone: string, live: ReadonlyArray<NodeInfo>) =>
        Effect.gen(function*() {
          const target = preferred(chunk.versionId, live.filter((node) => !chunk.nodes.includes(node.id)))
          if (target === undefined) return null
          const sources = chunk.nodes.filter((node) => live.some((l) => l.id === node))
          if (sources.length === 0) return yield* new Unavailable({ message: `chunk version ${chunk.versionId} has no live holder` })
          const good = yield* Effect.firstSuccessOf(sources.map((node) => goodCopy(peers, chunk, node)))
          const store = yield* peers.forNode(target)
          const copy = Effect.zipRight(store.stage(chunk.versionId, good.bytes, chunk.checksum), store.commit([chunk.versionId]))
          yield* copy
          // The node came back meanwhile: its copy stands, and the one just made is surplus.
          if ((yield* cluster.members).some((member) => member.id === gone && member.alive)) return chunk
          yield* replicator.propose({ _tag: "MoveReplica", inode, index: chunk.index, versionId: chunk.versionId, from: gone, to: target.id }, null)
          // Until the move applied, the copy was surplus to the collector, which may have deleted
          // it if the gone node came back just then; now it is not, so one more look settles it.
          yield* store.read(chunk.versionId, 0, 0).pipe(Effect.catchTag("NotFound", () => copy))
          yield* Effect.logInfo(`re-replicated chunk version ${chunk.versionId} from gone node ${gone} to node ${target.id} (copied from ${good.node})`)
          return { ...chunk, nodes: chunk.nodes.map((node) => (node === gone ? target.id : node)) }
        })

      const sweep = Effect.gen(function*() {
        const status = yield* replicator.status
        if (status.role !== "leader") {
          fruitless = null
          return downSince.clear()
        }
        const now = yield* Clock.currentTimeMillis
        const members = yield* cluster.members
        for (const member of members) {
          if (member.alive) downSince.delete(member.id)
          else if (!downSince.has(member.id)) downSince.set(member.id, now)
        }
        const gone = new Set([...downSince].filter(([, since]) => now - since >= downAfterMillis).map(([id]) => id))
        if (gone.size === 0) return
        const live = members.filter((member) => member.alive)
        const view = `${[...gone].sort().join(",")}|${live.map((member) => member.id).sort().join(",")}`
        if (view === fruitless) return
        let stuck = 0
        let moved = 0
        yield* forEachChunk(metadata, (inode, chunk) =>
          Effect.gen(function*() {
            let current = chunk
            for (const node of chunk.nodes.filter((n) => gone.has(n))) {
              const next = yield* move(inode, current, node, live).pipe(
                Effect.catchAll((error) =>
                  Effect.as(Effect.logWarning(`could not re-replicate chunk version ${chunk.versionId} off gone node ${node}`, error), current))
              )
              if (next === null) stuck++
              else if (next !== current) moved++
              current = next ?? current
            }
          }))
        fruitless = stuck > 0 && moved === 0 ? view : null
        if (fruitless !== null) {
          yield* Effect.logWarning(
            `${stuck} chunk copies on gone nodes ${[...gone].join(", ")} have no live node to move to; they wait until membership changes`
          )
        }
      })

      yield* supervisedLoop("chunk re-replication", sweep, options.interval ?? Duration.seconds(5))
    })
  )
