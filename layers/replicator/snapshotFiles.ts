/**
 * The Raft replicator's snapshots as files (the SnapshotStore), so that none is ever held whole
 * in memory, whatever the size of the namespace:
 * - a leader encodes its store into a new snapshot page by page and reads it back chunk by
 *   chunk as it fills in the InstallSnapshot messages the core emits empty;
 * - a follower writes the chunks it takes into a partial snapshot as they arrive, and commits
 *   it (durable, named by its log position) when the last one completes it, before the WAL
 *   record that points at it is written;
 * - snapshots nothing uses any more are deleted.
 */
import { Effect } from "effect"
import type { IoError } from "../../src/domain/errors.ts"
import { chunkEnd } from "../../src/raft/snapshotTransfer.ts"
import type { Message, Snapshot, SnapshotChunk } from "../../src/raft/types.ts"
import type { MetadataServiceShape, StoreError } from "../../src/services/MetadataService.ts"
import type { SnapshotStoreShape, SnapshotWriter } from "../../src/services/SnapshotStore.ts"

type InstallSnapshot = Extract<Message, { _tag: "InstallSnapshot" }>

/** The snapshot being received from the leader: where its bytes go, and how many arrived. */
interface Incoming {
  readonly index: number
  readonly term: number
  readonly writer: SnapshotWriter
  written: number
}

const samePosition = (a: { readonly index: number; readonly term: number }, b: { readonly index: number; readonly term: number }) =>
  a.index === b.index && a.term === b.term

/** An InstallSnapshot as the core emits it: its bytes are still to be read from the snapshot. */
export const needsBytes = (message: Message): message is InstallSnapshot =>
  message._tag === "InstallSnapshot" && message.data.byteLength === 0 && message.offset < message.totalBytes

export const makeSnapshotFiles = (snapshots: SnapshotStoreShape, chunkBytes: number) => {
  let incoming: Incoming | null = null

  const dropIncoming = Effect.suspend(() => {
    const dropped = incoming
    incoming = null
    return dropped === null ? Effect.void : dropped.writer.abort
  })

  /** Write one chunk; the one that completes its snapshot commits it (the core installs it) or drops it. */
  const writeChunk = (chunk: SnapshotChunk) =>
    Effect.gen(function*() {
      if (chunk.offset === 0) {
        yield* dropIncoming
        const writer = yield* snapshots.create
        incoming = { index: chunk.index, term: chunk.term, writer, written: 0 }
      }
      const current = incoming
      // The core hands out the chunks of one transfer in order, each once: anything else is a bug.
      if (current === null || !samePosition(current, chunk) || current.written !== chunk.offset) {
        return yield* Effect.dieMessage(
          `snapshot chunk at offset ${chunk.offset} of ${chunk.index}/${chunk.term} does not follow ` +
            (current === null ? "any snapshot being received" : `${current.written} bytes of ${current.index}/${current.term}`)
        )
      }
      if (chunk.data.byteLength > 0) yield* current.writer.write(chunk.data)
      current.written += chunk.data.byteLength
      if (!chunk.last) return
      incoming = null
      if (chunk.install) yield* current.writer.commit(current.index, current.term)
      else yield* current.writer.abort
    })

  /**
   * Write the chunks the core took this turn, in order (a snapshot the core installs is durable
   * once this returns); `receiving`: whether the core still follows a transfer, else a partial
   * one it gave up on is dropped.
   */
  const receive = (chunks: ReadonlyArray<SnapshotChunk>, receiving: boolean): Effect.Effect<void, IoError> =>
    Effect.gen(function*() {
      for (const chunk of chunks) yield* writeChunk(chunk)
      if (!receiving) yield* dropIncoming
    })

  /** The message with its chunk's bytes, or null if the snapshot is gone (the core resends from a newer one). */
  const attachBytes = (message: InstallSnapshot): Effect.Effect<InstallSnapshot | null> => {
    const snapshot = { index: message.snapshotIndex, term: message.snapshotTerm, size: message.totalBytes }
    const end = chunkEnd(message.offset, message.totalBytes, chunkBytes)
    return snapshots.read(snapshot, message.offset, end - message.offset).pipe(
      Effect.map((data) => ({ ...message, data })),
      Effect.catchAll((error) =>
        Effect.as(Effect.logWarning(`cannot send snapshot ${snapshot.index}/${snapshot.term}: ${error.message}`), null)
      )
    )
  }

  /**
   * Encode the store into a new snapshot and commit it at its applied index, if `termAt` still
   * knows that index's term (else the log was compacted past it meanwhile: null).
   */
  const encode = (
    metadata: MetadataServiceShape,
    termAt: (index: number) => number | undefined
  ): Effect.Effect<Snapshot | null, StoreError> =>
    Effect.acquireUseRelease(
      snapshots.create,
      (writer) =>
        Effect.gen(function*() {
          const taken = yield* metadata.snapshot(writer.write)
          const term = termAt(taken.appliedIndex)
          if (term === undefined) return null
          return yield* writer.commit(taken.appliedIndex, term)
        }),
      // After a commit, abort does nothing.
      (writer) => writer.abort
    )

  return {
    receive,
    attachBytes,
    encode,
    /** Whether part of a snapshot being received is held. */
    holdsPartial: () => incoming !== null,
    /** Delete every snapshot but `keep` (a partial one being received is not affected). */
    retain: (keep: ReadonlyArray<Snapshot>) => snapshots.retain(keep),
    close: dropIncoming
  }
}

export type SnapshotFiles = ReturnType<typeof makeSnapshotFiles>
