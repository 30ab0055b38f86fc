/** A walk over every chunk the metadata holds, a page at a time, for background work on all replicas. */
import { Effect } from "effect"
import type { ChunkRef, InodeId } from "../../src/domain/fs.ts"
import type { ChunkPosition, MetadataServiceShape, StoreError } from "../../src/services/MetadataService.ts"

/** Chunks read from the metadata at a time. */
const PAGE = 256

/** `visit` each chunk of every file in (inode, index) order, one after another. */
export const forEachChunk = <E, R>(
  metadata: MetadataServiceShape,
  visit: (inode: InodeId, chunk: ChunkRef) => Effect.Effect<void, E, R>
): Effect.Effect<void, E | StoreError, R> =>
  Effect.gen(function*() {
    let after: ChunkPosition | null = null
    for (;;) {
      const page: ReadonlyArray<{ readonly inode: InodeId; readonly chunk: ChunkRef }> = yield* metadata.chunkPage(after, PAGE)
      for (const { chunk, inode } of page) yield* visit(inode, chunk)
      if (page.length < PAGE) return
      const last = page[page.length - 1]!
      after = { inode: last.inode, index: last.chunk.index }
    }
  })
