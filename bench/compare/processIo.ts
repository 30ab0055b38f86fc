/**
 * Bytes a set of server processes has caused to be written to storage so far (`write_bytes` of
 * /proc/<pid>/io: page-cache pages they dirtied, counted when dirtied, whatever file they
 * belong to — chunk files, the WAL, the metadata store). Read around a timed window, the
 * difference per operation is what one write costs the disk, summed over the replicas.
 */
import { FileSystem } from "@effect/platform"
import { Effect } from "effect"
import { UnexpectedResult } from "../../src/bench/measure.ts"

/** `write_bytes` from the text of /proc/<pid>/io. */
export const parseWriteBytes = (io: string): number | undefined => {
  const match = /^write_bytes:\s*(\d+)\s*$/m.exec(io)
  return match === null ? undefined : Number(match[1])
}

/** Bytes the processes `pids` have written to storage, summed; fails if one is gone or unreadable. */
export const processWrittenBytes = (pids: ReadonlyArray<number>) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    let bytes = 0
    for (const pid of pids) {
      const text = yield* fs.readFileString(`/proc/${pid}/io`).pipe(
        Effect.mapError((error) => new UnexpectedResult({ message: `bytes written by process ${pid}: ${error.message}` }))
      )
      const written = parseWriteBytes(text)
      if (written === undefined) return yield* new UnexpectedResult({ message: `bytes written by process ${pid}: no write_bytes in /proc/${pid}/io` })
      bytes += written
    }
    return bytes
  })
