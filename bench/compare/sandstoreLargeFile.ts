/**
 * Sandstore's large-file throughput: one client writes one file sequentially in whole-chunk
 * pieces (as `sandstore fs put` does: each call is one new chunk version on every replica), then
 * reads it back in the same pieces (as `fs get` does) and checks every piece. Each pass is timed
 * from open to close.
 */
import { Clock, Effect } from "effect"
import { connectClient } from "../../src/bench/preflight.ts"
import { describeFailure, UnexpectedResult } from "../../src/bench/measure.ts"
import { MAX_TRANSFER_BYTES } from "../../src/protocol/ClientApi.ts"
import { FilePieces } from "./filePieces.ts"
import type { Throughput } from "./results.ts"

const secondsSince = (start: bigint) => Effect.map(Clock.currentTimeNanos, (now) => Number(now - start) / 1e9)

/** Bytes per call: a whole chunk, capped by the API (what put/get use). */
export const sandstorePieceBytes = (seeds: ReadonlyArray<string>) =>
  Effect.scoped(Effect.gen(function*() {
    const client = yield* connectClient(seeds)
    const info = yield* client.fsInfo
    return Math.min(info.chunkSize, MAX_TRANSFER_BYTES)
  }))

export const sandstoreLargeFile = (options: {
  readonly seeds: ReadonlyArray<string>
  readonly path: string
  readonly pieces: FilePieces
}) =>
  Effect.scoped(Effect.gen(function*() {
    const { path, pieces } = options
    const client = yield* connectClient(options.seeds)

    const writeStart = yield* Clock.currentTimeNanos
    const writer = yield* client.open(path, "w")
    for (let index = 0; index < pieces.count; index++) yield* writer.write(pieces.piece(index), pieces.offset(index))
    yield* writer.close
    const write: Throughput = { bytes: pieces.fileSize, seconds: yield* secondsSince(writeStart) }

    const readStart = yield* Clock.currentTimeNanos
    const reader = yield* client.open(path, "r")
    let total = 0
    for (let index = 0; ; index++) {
      const bytes = yield* reader.read(pieces.pieceBytes)
      if (bytes.length === 0) break
      total += bytes.length
      if (index >= pieces.count || !pieces.matches(index, bytes)) {
        return yield* new UnexpectedResult({ message: `${path}: the ${bytes.length} bytes read as piece ${index} are not the bytes written there` })
      }
    }
    yield* reader.close
    const read: Throughput = { bytes: total, seconds: yield* secondsSince(readStart) }
    if (total !== pieces.fileSize) {
      return yield* new UnexpectedResult({ message: `${path}: read ${total} bytes back, ${pieces.fileSize} were written` })
    }
    yield* client.unlink(path)
    return { write, read }
  })).pipe(Effect.mapError((error) => new UnexpectedResult({ message: `large file: ${describeFailure(error)}` })))
