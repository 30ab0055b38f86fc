/**
 * The bytes a read plan says a file holds over [offset, offset + length), assembled from its
 * chunks: cut at the file's size, holes (no chunk, or past a chunk's length) as zeros, and the
 * chunks read at once. The node's data plane and the client's replica reads both use it; only
 * how one chunk's bytes are fetched differs.
 */
import { Effect } from "effect"
import type { ChunkRef } from "../domain/fs.ts"

export interface PlannedChunks {
  readonly attributes: { readonly size: number }
  readonly chunkSize: number
  readonly chunks: ReadonlyArray<ChunkRef>
}

export const plannedBytes = <E, R>(
  plan: PlannedChunks,
  offset: number,
  length: number,
  /** exactly `length` bytes at `offset` of `chunk` */
  readChunk: (chunk: ChunkRef, offset: number, length: number) => Effect.Effect<Uint8Array, E, R>,
  concurrency: number | "unbounded"
): Effect.Effect<Uint8Array, E, R> => {
  const end = Math.min(offset + length, plan.attributes.size)
  if (end <= offset) return Effect.succeed(new Uint8Array(0))
  const parts = plan.chunks.flatMap((chunk) => {
    const chunkStart = chunk.index * plan.chunkSize
    const from = Math.max(offset, chunkStart)
    const to = Math.min(end, chunkStart + chunk.length)
    return to > from ? [{ chunk, chunkStart, from, to }] : []
  })
  // One chunk holds the whole range (a sequential reader's usual case): its bytes, uncopied.
  const only = parts[0]
  if (parts.length === 1 && only!.from === offset && only!.to === end) {
    return readChunk(only!.chunk, offset - only!.chunkStart, end - offset)
  }
  const out = new Uint8Array(end - offset)
  return Effect.as(
    Effect.forEach(parts, ({ chunk, chunkStart, from, to }) =>
      Effect.map(readChunk(chunk, from - chunkStart, to - from), (bytes) => out.set(bytes, from - offset)), { concurrency, discard: true }),
    out
  )
}
