/**
 * The chunk collector: supervised background fibers on the leader that keep chunk storage in
 * step with the metadata.
 *
 * - Garbage: versions no file references any more (removed files, overwritten or truncated-away
 *   chunks) are deleted from every node that holds them, then forgotten through the log. A
 *   version is forgotten only after every holder confirmed, so a node that was down is retried.
 * - In-doubt, orphaned and surplus versions: every node's stored versions are compared with
 *   the metadata. A staged version that committed metadata references is finalized (its
 *   participant missed the notice). One that is not referenced and was minted more than
 *   ORPHAN_GRACE_MILLIS ago is deleted — safe because the collector first advances the state
 *   machine's clock through the log, after which no transaction that old can commit. A copy
 *   the metadata no longer places on its node (chunkRereplicator.ts moved it) is deleted.
 */
import { Clock, Duration, Effect, Layer } from "effect"
import { TRANSACTION_TTL_MILLIS } from "../../src/domain/commands.ts"
import type { ChunkRef } from "../../src/domain/fs.ts"
import { parseVersionId } from "../../src/domain/versionId.ts"
import { ChunkPeers, type PeerChunkStore } from "../../src/services/ChunkPeers.ts"
import { ClusterService } from "../../src/services/ClusterService.ts"
import { MetadataReplicator } from "../../src/services/MetadataReplicator.ts"
import { MetadataService } from "../../src/services/MetadataService.ts"
import { supervisedLoop } from "./supervisedLoop.ts"

/** Unreferenced versions younger than this are left alone (twice the transaction TTL: room for clock skew). */
export const ORPHAN_GRACE_MILLIS = 2 * TRANSACTION_TTL_MILLIS

export interface ChunkCollectorOptions {
  readonly interval?: Duration.DurationInput
  /** How often every node's stored versions are reconciled with the metadata. */
  readonly orphanInterval?: Duration.DurationInput
  /** Versions examined per garbage sweep. */
  readonly batch?: number
  /**
   * Unreferenced versions younger than this are left alone (default ORPHAN_GRACE_MILLIS). Must
   * exceed the metadata's transaction TTL; simulations shrink both.
   */
  readonly orphanGraceMillis?: number
}

export const ChunkCollector = (options: ChunkCollectorOptions = {}) =>
  Layer.scopedDiscard(
    Effect.gen(function*() {
      const metadata = yield* MetadataService
      const replicator = yield* MetadataReplicator
      const peers = yield* ChunkPeers
      const cluster = yield* ClusterService
      const orphanGraceMillis = options.orphanGraceMillis ?? ORPHAN_GRACE_MILLIS

      const isLeader = Effect.map(replicator.status, (s) => s.role === "leader" || s.role === "standalone")

      /**
       * Delete `garbage` from every live node that holds it, one request per node for all it
       * holds: the versions every live holder confirmed. A node that fails keeps all of its
       * versions unconfirmed for the next sweep (deleting again is a no-op).
       */
      const removeEverywhere = (garbage: ReadonlyArray<ChunkRef>) =>
        Effect.gen(function*() {
          // A node that is down is not waited for: if it comes back, its copies are orphans,
          // which reconciliation deletes. Waiting would let a node gone for good hold up every
          // sweep, oldest garbage first.
          const down = new Set((yield* cluster.members).filter((member) => !member.alive).map((member) => member.id))
          const byNode = new Map<string, Array<string>>()
          for (const ref of garbage) {
            for (const node of ref.nodes) {
              if (down.has(node)) continue
              const held = byNode.get(node)
              if (held === undefined) byNode.set(node, [ref.versionId])
              else held.push(ref.versionId)
            }
          }
          const failed = new Set<string>()
          yield* Effect.forEach(byNode, ([node, versionIds]) =>
            Effect.flatMap(peers.forNode(node), (store) => store.remove(versionIds)).pipe(
              Effect.catchAll(() => Effect.sync(() => failed.add(node)))
            ), { concurrency: "unbounded", discard: true })
          return garbage.filter((ref) => ref.nodes.every((node) => !failed.has(node)))
        })

      const collectGarbage = Effect.gen(function*() {
        if (!(yield* isLeader)) return
        // The applied state, without a ReadIndex round: what it lists as garbage stays garbage (no
        // file refers to a version again), and deleting one a stale state still lists is a no-op.
        const garbage = yield* metadata.garbage(options.batch ?? 256)
        if (garbage.length === 0) return
        const removed = yield* removeEverywhere(garbage)
        if (removed.length === 0) return
        const now = yield* Clock.currentTimeMillis
        yield* replicator.propose({ _tag: "ForgetGarbage", versionIds: removed.map((r) => r.versionId), now }, null)
        yield* Effect.logDebug(`chunk collector removed ${removed.length} unreferenced versions`)
      })

      /**
       * Reconcile one node's stored versions with the metadata. A referenced version the metadata
       * no longer places on this node is a surplus copy (the node was gone and its chunks were
       * copied elsewhere): it is deleted once every node the metadata names is alive, so the
       * copy is never deleted while it may be one of the few left.
       */
      const reconcileNode = (node: string, store: PeerChunkStore, cutoff: number, alive: ReadonlySet<string>) =>
        Effect.gen(function*() {
          const { committed, staged } = yield* store.list
          const chunkMaps = new Map<number, ReadonlyArray<ChunkRef>>()
          const referenceOf = (inode: number, index: number, versionId: string) =>
            Effect.gen(function*() {
              let chunks = chunkMaps.get(inode)
              if (chunks === undefined) {
                chunks = yield* replicator.linearizable(metadata.chunks(inode)).pipe(
                  Effect.catchTags({ NotFound: () => Effect.succeed([]), IsADirectory: () => Effect.succeed([]) })
                )
                chunkMaps.set(inode, chunks)
              }
              return chunks.find((c) => c.index === index && c.versionId === versionId)
            })
          const stagedSet = new Set(staged)
          const inDoubt: Array<string> = []
          const orphans: Array<string> = []
          const surplus: Array<string> = []
          for (const versionId of [...staged, ...committed]) {
            const minted = parseVersionId(versionId)
            if (minted === null) continue
            const ref = yield* referenceOf(minted.inode, minted.index, versionId)
            if (ref === undefined) {
              if (minted.createdAt < cutoff) orphans.push(versionId)
            } else if (!ref.nodes.includes(node)) {
              if (ref.nodes.every((holder) => alive.has(holder))) surplus.push(versionId)
            } else if (stagedSet.has(versionId)) {
              inDoubt.push(versionId)
            }
          }
          if (inDoubt.length > 0) yield* store.commit(inDoubt)
          if (orphans.length + surplus.length > 0) yield* store.remove([...orphans, ...surplus])
          if (inDoubt.length + orphans.length + surplus.length > 0) {
            yield* Effect.logInfo(
              `chunk collector finalized ${inDoubt.length} in-doubt, deleted ${orphans.length} orphaned and ${surplus.length} surplus versions on node ${node}`
            )
          }
        })

      const reconcile = Effect.gen(function*() {
        if (!(yield* isLeader)) return
        const now = yield* replicator.clock
        // Advance the state machine's clock to at least `now` (the entry carries a later
        // reading): from then on no transaction minted before now - TTL can commit, so an
        // unreferenced version minted (on the same clock) before now - grace is an orphan.
        yield* replicator.propose({ _tag: "ForgetGarbage", versionIds: [], now: yield* Clock.currentTimeMillis }, null)
        const members = yield* cluster.members
        const alive = new Set(members.filter((member) => member.alive).map((member) => member.id))
        yield* Effect.forEach(members, (member) =>
          peers.forNode(member).pipe(
            Effect.flatMap((store) => reconcileNode(member.id, store, now - orphanGraceMillis, alive)),
            Effect.catchAll((error) => Effect.logDebug(`chunk reconciliation skipped ${member.id}`, error))
          ), { concurrency: 4, discard: true })
      })

      yield* supervisedLoop("chunk garbage collection", collectGarbage, options.interval ?? Duration.seconds(5))
      yield* supervisedLoop("chunk reconciliation", reconcile, options.orphanInterval ?? Duration.minutes(1))
    })
  )
