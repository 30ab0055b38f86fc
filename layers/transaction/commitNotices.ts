/**
 * Commit notices: once a write transaction committed, its participants are told to finalize
 * the staged versions it installed. Off the writer's path — a staged version is durable and
 * served already, so the write is acknowledged as soon as its commit entry applied — and
 * batched: after the first notice the sender lingers briefly, then sends one request per node
 * for every version committed meanwhile.
 *
 * Notices are best effort. One that is lost (node down, queue full, this node crashed) leaves a
 * version staged, where it is still read, and the chunk collector finalizes it when it
 * reconciles that node's versions with the metadata.
 */
import { Duration, Effect, type Scope } from "effect"
import type { ChunkUpdate } from "../../src/domain/commands.ts"
import type { ChunkPeersShape } from "../../src/services/ChunkPeers.ts"

export interface CommitNoticeOptions {
  /** How long the sender gathers notices after the first before sending them. */
  readonly linger?: Duration.DurationInput
  /** Versions waiting to be sent, over all nodes; beyond this, notices are dropped (the collector finalizes). */
  readonly maxPending?: number
}

export interface CommitNotices {
  /** Queue the finalizing of every version `updates` installed, on every node holding one; returns at once. */
  readonly send: (updates: ReadonlyArray<ChunkUpdate>) => Effect.Effect<void>
}

export const makeCommitNotices = (
  peers: ChunkPeersShape,
  options: CommitNoticeOptions = {}
): Effect.Effect<CommitNotices, never, Scope.Scope> =>
  Effect.gen(function*() {
    const linger = Duration.decode(options.linger ?? Duration.millis(50))
    const maxPending = options.maxPending ?? 4096
    /** node id -> versions to finalize there */
    let pending = new Map<string, Array<string>>()
    let pendingCount = 0
    let dropped = 0
    const ready = yield* Effect.makeLatch(false)

    const send: CommitNotices["send"] = (updates) =>
      Effect.sync(() => {
        for (const update of updates) {
          for (const node of update.chunk.nodes) {
            if (pendingCount >= maxPending) {
              dropped++
              continue
            }
            const versionIds = pending.get(node)
            if (versionIds === undefined) pending.set(node, [update.chunk.versionId])
            else versionIds.push(update.chunk.versionId)
            pendingCount++
          }
        }
        ready.unsafeOpen()
      })

    const deliverBatch = Effect.gen(function*() {
      yield* ready.await
      yield* Effect.sleep(linger)
      // Taken in one step with closing the latch: a notice queued from here on opens it again.
      ready.unsafeClose()
      const batch = pending
      pending = new Map()
      pendingCount = 0
      if (dropped > 0) {
        yield* Effect.logWarning(`${dropped} commit notices dropped (queue full); the chunk collector will finalize those versions`)
        dropped = 0
      }
      yield* Effect.forEach(batch, ([node, versionIds]) =>
        peers.forNode(node).pipe(
          Effect.flatMap((store) => store.commit(versionIds)),
          // NotFound: a version was replaced and collected meanwhile (the others were committed).
          Effect.catchTag("NotFound", (error) => Effect.logDebug(`finalizing chunk versions on ${node}: ${error.message}`)),
          Effect.catchAll((error) =>
            Effect.logWarning(`finalizing ${versionIds.length} chunk versions on ${node} failed; the collector will retry`, error))
        ), { concurrency: "unbounded", discard: true })
    })

    yield* deliverBatch.pipe(
      Effect.catchAllCause((cause) => Effect.logWarning("commit notices failed; continuing", cause)),
      Effect.forever,
      Effect.forkScoped
    )
    return { send }
  })
