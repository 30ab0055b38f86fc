/**
 * The chunk scrubber: a supervised background fiber on every node that reads each committed
 * version on the node's own disk, whole, at a bounded rate, and checks it twice: against the
 * block checksums stored with it (the chunk store does this on every read) and against the
 * checksum the metadata records for it. A damaged copy is logged and repaired from another
 * replica (replicaRepair.ts). Versions the metadata does not reference are left to the chunk
 * collector.
 */
import { Duration, Effect, Either, Layer } from "effect"
import { parseVersionId } from "../../src/domain/versionId.ts"
import { crc32c } from "../../src/lib/crc32c.ts"
import { ChunkPeers } from "../../src/services/ChunkPeers.ts"
import { ChunkService } from "../../src/services/ChunkService.ts"
import { MetadataService } from "../../src/services/MetadataService.ts"
import { repairReplica } from "./replicaRepair.ts"

export interface ChunkScrubberOptions {
  /** Bytes read per second, at most (default 4 MiB/s): scrubbing must not starve clients. */
  readonly bytesPerSecond?: number
  /** Pause between the end of one pass over the node's versions and the start of the next (default 10 minutes). */
  readonly interval?: Duration.DurationInput
}

export const DEFAULT_SCRUB_BYTES_PER_SECOND = 4 * 1024 * 1024

export const ChunkScrubber = (options: ChunkScrubberOptions = {}) =>
  Layer.scopedDiscard(
    Effect.gen(function*() {
      const chunks = yield* ChunkService
      const metadata = yield* MetadataService
      const peers = yield* ChunkPeers
      const bytesPerSecond = options.bytesPerSecond ?? DEFAULT_SCRUB_BYTES_PER_SECOND

      /** The chunk reference the metadata (this node's applied state) holds for `versionId`, if any. */
      const referenceOf = (versionId: string) =>
        Effect.gen(function*() {
          const minted = parseVersionId(versionId)
          if (minted === null) return undefined
          const refs = yield* metadata.chunks(minted.inode).pipe(
            Effect.catchTags({ NotFound: () => Effect.succeed([]), IsADirectory: () => Effect.succeed([]) })
          )
          return refs.find((ref) => ref.index === minted.index && ref.versionId === versionId)
        })

      const scrub = (versionId: string) =>
        Effect.gen(function*() {
          const ref = yield* referenceOf(versionId)
          if (ref === undefined || !ref.nodes.includes(peers.selfId)) return
          const read = yield* Effect.either(chunks.read(versionId, 0, ref.storedLength))
          const problem = Either.match(read, {
            onLeft: (error) => error._tag === "NotFound" ? null : error.message,
            onRight: (bytes) =>
              bytes.length !== ref.storedLength
                ? `${bytes.length} of its ${ref.storedLength} bytes are stored`
                : crc32c(bytes) !== ref.checksum
                ? "its bytes do not match the checksum its metadata records"
                : null
          })
          if (problem !== null) {
            yield* Effect.logWarning(`scrubber: chunk version ${versionId} on this node is damaged: ${problem}`)
            yield* repairReplica(peers, ref, peers.selfId).pipe(
              Effect.catchAll((error) => Effect.logWarning(`scrubber: could not repair chunk version ${versionId}`, error))
            )
          }
          // The rate bound: the next read waits as long as this one's bytes are allowed to take.
          yield* Effect.sleep(Duration.millis((ref.storedLength * 1000) / bytesPerSecond))
        })

      const pass = Effect.flatMap(chunks.list, ({ committed }) => Effect.forEach(committed, scrub, { discard: true }))

      yield* pass.pipe(
        Effect.catchAllCause((cause) => Effect.logWarning("scrubber pass failed; retrying next round", cause)),
        Effect.zipRight(Effect.sleep(options.interval ?? Duration.minutes(10))),
        Effect.forever,
        Effect.forkScoped
      )
    })
  )
