/**
 * The disk's own sequential throughput, for scale: the same pieces written with plain node:fs
 * to a file in a temp dir (same filesystem as the clusters' data), then one fsync, then read
 * back. The read comes from the page cache, as Sandstore's reads of its fresh chunk files do.
 */
import { Clock, Effect } from "effect"
import { open } from "node:fs/promises"
import { join } from "node:path"
import { UnexpectedResult } from "../../src/bench/measure.ts"
import { tempDir } from "../../test/support/tempDir.ts"
import type { FilePieces } from "./filePieces.ts"
import type { Throughput } from "./results.ts"

const secondsSince = (start: bigint) => Effect.map(Clock.currentTimeNanos, (now) => Number(now - start) / 1e9)

const fsCall = <A>(what: string, run: () => Promise<A>) =>
  Effect.tryPromise({
    try: run,
    catch: (cause) => new UnexpectedResult({ message: `disk ${what}: ${cause instanceof Error ? cause.message : String(cause)}` })
  })

export const diskBaseline = (pieces: FilePieces) =>
  Effect.scoped(Effect.gen(function*() {
    const file = join(yield* tempDir("sandstore-compare-disk-"), "sequential")

    const writeStart = yield* Clock.currentTimeNanos
    const writer = yield* fsCall("open", () => open(file, "w"))
    yield* Effect.addFinalizer(() => Effect.promise(() => writer.close().catch(() => undefined)))
    for (let index = 0; index < pieces.count; index++) {
      const bytes = pieces.piece(index)
      yield* fsCall("write", () => writer.write(bytes, 0, bytes.length, pieces.offset(index)))
    }
    yield* fsCall("fsync", () => writer.sync())
    const write: Throughput = { bytes: pieces.fileSize, seconds: yield* secondsSince(writeStart) }

    const readStart = yield* Clock.currentTimeNanos
    const reader = yield* fsCall("open", () => open(file, "r"))
    yield* Effect.addFinalizer(() => Effect.promise(() => reader.close().catch(() => undefined)))
    const buffer = new Uint8Array(pieces.pieceBytes)
    /** Fills `buffer` from `position` (a read may return less than asked); resolves with the bytes read. */
    const fill = (position: number) =>
      Effect.gen(function*() {
        let filled = 0
        while (filled < buffer.length) {
          const at = filled
          const { bytesRead } = yield* fsCall("read", () => reader.read(buffer, at, buffer.length - at, position + at))
          if (bytesRead === 0) break
          filled += bytesRead
        }
        return filled
      })
    let total = 0
    for (let index = 0; ; index++) {
      const filled = yield* fill(total)
      if (filled === 0) break
      if (!pieces.matches(index, buffer.subarray(0, filled))) {
        return yield* new UnexpectedResult({ message: `disk read: piece ${index} differs from what was written` })
      }
      total += filled
    }
    const read: Throughput = { bytes: total, seconds: yield* secondsSince(readStart) }
    return { write, read }
  }))
