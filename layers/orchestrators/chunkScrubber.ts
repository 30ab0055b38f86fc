/**
 * The chunk scrubber: a supervised background fiber on every node that reads each chunk version
 * the metadata places on the node, whole, from its own disk, at a bounded rate, and checks it
 * twice: against the block checksums stored with it (the chunk store does this on every read)
 * and against the checksum the metadata records for it. A damaged copy is logged and repaired from another
 * replica (replicaRepair.ts), and so is one the metadata places here that the node does not
 * hold. Versions the metadata does not reference are left to the chunk collector.
 */
import { Duration, Effect, Either, Layer } from "effect"
import type { ChunkRef } from "../../src/domain/fs.ts"
import { crc32c } from "../../src/lib/crc32c.ts"
import { ChunkPeers } from "../../src/services/ChunkPeers.ts"
import { ChunkService } from "../../src/services/ChunkService.ts"
import { MetadataService } from "../../src/services/MetadataService.ts"
import { forEachChunk } from "./chunkWalk.ts"
import { supervisedLoop } from "./supervisedLoop.ts"
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

      const scrub = (ref: ChunkRef) =>
        Effect.gen(function*() {
          const read = yield* Effect.either(chunks.read(ref.versionId, 0, ref.storedLength))
          const problem = Either.match(read, {
            onLeft: (error) => error._tag === "NotFound" ? "it is not stored here" : error.message,
            onRight: (bytes) =>
              bytes.length !== ref.storedLength
                ? `${bytes.length} of its ${ref.storedLength} bytes are stored`
                : crc32c(bytes) !== ref.checksum
                ? "its bytes do not match the checksum its metadata records"
                : null
          })
          if (problem !== null) {
            yield* Effect.logWarning(`scrubber: chunk version ${ref.versionId} on this node is damaged: ${problem}`)
            yield* repairReplica(peers, ref, peers.selfId).pipe(
              Effect.catchAll((error) => Effect.logWarning(`scrubber: could not repair chunk version ${ref.versionId}`, error))
            )
          }
          // The rate bound: the next read waits as long as this one's bytes are allowed to take.
          yield* Effect.sleep(Duration.millis((ref.storedLength * 1000) / bytesPerSecond))
        })

      /** Every chunk the metadata (this node's applied state) places on this node. */
      const pass = forEachChunk(metadata, (_, chunk) => (chunk.nodes.includes(peers.selfId) ? scrub(chunk) : Effect.void))

      yield* supervisedLoop("chunk scrubbing", pass, options.interval ?? Duration.minutes(10))
    })
  )
