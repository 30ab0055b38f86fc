/**
 * Repairing a damaged replica: the committed version's bytes are fetched whole from another
 * node that holds it, checked against the checksum the metadata records (so a replica whose
 * bytes are consistent but wrong is never the source), and written over the damaged copy. The
 * data plane does this when a read finds a replica damaged; the scrubber when it finds one
 * on its own disk, damaged or missing.
 */
import { Effect } from "effect"
import { Corruption, Unavailable } from "../../src/domain/errors.ts"
import type { ChunkRef } from "../../src/domain/fs.ts"
import { crc32c } from "../../src/lib/crc32c.ts"
import type { ChunkPeersShape } from "../../src/services/ChunkPeers.ts"

/** The version's bytes from `node`, if they are exactly what the metadata records. */
export const goodCopy = (peers: ChunkPeersShape, ref: ChunkRef, node: string) =>
  peers.forNode(node).pipe(
    Effect.flatMap((store) => store.read(ref.versionId, 0, ref.storedLength)),
    Effect.filterOrFail(
      (bytes) => bytes.length === ref.storedLength && crc32c(bytes) === ref.checksum,
      () => new Corruption({ message: `node ${node}'s copy of chunk version ${ref.versionId} does not match its metadata` })
    ),
    Effect.map((bytes) => ({ node, bytes }))
  )

/** Overwrite `damaged`'s copy of `ref` with a good one from another holder; logs what it did. */
export const repairReplica = (peers: ChunkPeersShape, ref: ChunkRef, damaged: string) =>
  Effect.gen(function*() {
    const sources = ref.nodes.filter((node) => node !== damaged)
    if (sources.length === 0) {
      return yield* new Unavailable({ message: `chunk version ${ref.versionId} has no other replica to repair ${damaged} from` })
    }
    const good = yield* Effect.firstSuccessOf(sources.map((node) => goodCopy(peers, ref, node)))
    // A copy the node lost altogether (NotFound) is stored again as a new committed version.
    yield* Effect.flatMap(peers.forNode(damaged), (store) =>
      store.repair(ref.versionId, good.bytes, ref.checksum).pipe(
        Effect.catchTag("NotFound", () => Effect.zipRight(store.stage(ref.versionId, good.bytes, ref.checksum), store.commit([ref.versionId])))
      ))
    yield* Effect.logWarning(`chunk version ${ref.versionId} on node ${damaged} was damaged; repaired from node ${good.node}`)
  })
