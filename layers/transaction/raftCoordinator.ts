/**
 * The Raft transaction coordinator: the log entry *is* the coordinator's decision record.
 * Commit = one CommitWrite entry conditioned on the chunk versions the writer read; the write is
 * acknowledged once it applied. Participants are then told to finalize, off the writer's path
 * and batched (commitNotices.ts); one that misses the notice still serves the version, because
 * committed metadata references it, and the chunk collector finalizes it later. When the state
 * machine definitely refused the entry (Conflict, NotFound...) the staged versions are aborted.
 * When the outcome is unknown (timeout, lost leadership) nothing is aborted: the entry may
 * still commit, and aborting then would leave committed metadata pointing at missing bytes.
 */
import { Effect, Layer } from "effect"
import { ChunkPeers } from "../../src/services/ChunkPeers.ts"
import { MetadataReplicator } from "../../src/services/MetadataReplicator.ts"
import { TransactionCoordinator, type WriteTransaction } from "../../src/services/TransactionCoordinator.ts"
import type { CommandError } from "../../src/domain/errors.ts"
import { makeCommitNotices } from "./commitNotices.ts"

const DEFINITE_REFUSALS: ReadonlySet<CommandError["_tag"]> = new Set([
  "NotFound", "AlreadyExists", "NotADirectory", "IsADirectory", "NotEmpty", "PermissionDenied", "InvalidArgument", "Conflict"
])

export const RaftTransactionCoordinator = Layer.scoped(
  TransactionCoordinator,
  Effect.gen(function*() {
    const replicator = yield* MetadataReplicator
    const peers = yield* ChunkPeers
    const notices = yield* makeCommitNotices(peers)

    /** Drop every staged version of a transaction that cannot commit, best effort. */
    const abort = (tx: WriteTransaction) =>
      Effect.forEach(
        tx.updates.flatMap((u) => u.chunk.nodes.map((node) => ({ node, versionId: u.chunk.versionId }))),
        ({ node, versionId }) =>
          peers.forNode(node).pipe(
            Effect.flatMap((store) => store.abort(versionId)),
            Effect.catchAll((error) =>
              Effect.logWarning(`abort of chunk version ${versionId} on ${node} failed; the collector will retry`, error)
            )
          ),
        { concurrency: "unbounded", discard: true }
      )

    return TransactionCoordinator.of({
      commit: (tx) =>
        Effect.gen(function*() {
          const now = yield* Effect.clockWith((c) => c.currentTimeMillis)
          const result = yield* replicator.propose(
            {
              _tag: "CommitWrite", inode: tx.inode, txId: tx.txId, updates: tx.updates, end: tx.end, now,
              ...(tx.expectedSize === null ? {} : { expectedSize: tx.expectedSize })
            },
            tx.request
          ).pipe(
            Effect.tapError((error) =>
              DEFINITE_REFUSALS.has(error._tag as CommandError["_tag"]) ? abort(tx) : Effect.void
            )
          )
          yield* notices.send(tx.updates)
          if (result === null) return yield* Effect.dieMessage("CommitWrite applied without attributes")
          return result
        })
    })
  })
)
