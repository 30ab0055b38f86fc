/**
 * The most memory a process has held (VmHWM in /proc/<pid>/status): the catch-up by snapshot
 * reports it for the restarted follower, whose whole life is that catch-up, to show the
 * snapshot is streamed through files rather than assembled in memory.
 */
import { FileSystem } from "@effect/platform"
import { Effect } from "effect"
import { UnexpectedResult } from "../../src/bench/measure.ts"

/** Parse "VmHWM:   123456 kB" out of the text of /proc/<pid>/status, in bytes. */
export const parsePeakRss = (status: string): number | undefined => {
  const match = /^VmHWM:\s+(\d+)\s+kB$/m.exec(status)
  return match === null ? undefined : Number(match[1]) * 1024
}

export const processPeakRssBytes = (pid: number) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const text = yield* fs.readFileString(`/proc/${pid}/status`).pipe(
      Effect.mapError((error) => new UnexpectedResult({ message: `peak memory of process ${pid}: ${error.message}` }))
    )
    const bytes = parsePeakRss(text)
    if (bytes === undefined) return yield* new UnexpectedResult({ message: `peak memory of process ${pid}: no VmHWM line` })
    return bytes
  })
