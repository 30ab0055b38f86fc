/**
 * The Raft transaction coordinator: the log entry *is* the coordinator's decision record.
 * Commit = one CommitWrite entry conditioned on the chunk versions the writer read. When it
 * applies, participants are told to finalize (a participant that misses the notice still
 * serves the version, because committed metadata references it, and the chunk collector
 * finalizes it later). When the state machine definitely refused the entry (Conflict,
 * NotFound...) the staged versions are aborted. When the outcome is unknown (timeout, lost
 * leadership) nothing is aborted: the entry may still commit, and aborting then would leave
 * committed metadata pointing at missing bytes.
 */
import { Effect, Layer } from "effect"
import { ChunkPeers } from "../../src/services/ChunkPeers.ts"
import { MetadataReplicator } from "../../src/services/MetadataReplicator.ts"
import { TransactionCoordinator, type WriteTransaction } from "../../src/services/TransactionCoordinator.ts"
import type { CommandError } from "../../src/domain/errors.ts"

const DEFINITE_REFUSALS: ReadonlySet<CommandError["_tag"]> = new Set([
  "NotFound", "AlreadyExists", "NotADirectory", "IsADirectory", "NotEmpty", "PermissionDenied", "InvalidArgument", "Conflict"
])

export const RaftTransactionCoordinator = Layer.effect(
  TransactionCoordinator,
  Effect.gen(function*() {
    const replicator = yield* MetadataReplicator
    const peers = yield* ChunkPeers

    /** Apply `action` to every staged version of the transaction on every target, best effort. */
    const forEachParticipant = (tx: WriteTransaction, action: "commit" | "abort") =>
      Effect.forEach(
        tx.updates.flatMap((u) => u.chunk.nodes.map((node) => ({ node, versionId: u.chunk.versionId }))),
        ({ node, versionId }) =>
          peers.forNode(node).pipe(
            Effect.flatMap((store) => store[action](versionId)),
            Effect.catchAll((error) =>
              Effect.logWarning(`${action} of chunk version ${versionId} on ${node} failed; the collector will retry`, error)
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
              DEFINITE_REFUSALS.has(error._tag as CommandError["_tag"]) ? forEachParticipant(tx, "abort") : Effect.void
            )
          )
          yield* forEachParticipant(tx, "commit")
          if (result === null) return yield* Effect.dieMessage("CommitWrite applied without attributes")
          return result
        })
    })
  })
)
