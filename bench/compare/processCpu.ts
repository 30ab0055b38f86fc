/**
 * CPU time a set of server processes has used so far (user + system, from /proc/<pid>/stat),
 * so a bench row can report CPU per operation: the difference over its timed window divided by
 * its operations. CPU per operation is far steadier than throughput on a shared machine, since
 * other load slows a process down but does not make it spend more cycles per request.
 */
import { FileSystem } from "@effect/platform"
import { Effect } from "effect"
import { execFile } from "node:child_process"
import { UnexpectedResult } from "../../src/bench/measure.ts"

/** Kernel clock ticks per second, the unit of utime and stime (`getconf CLK_TCK`, 100 on Linux). */
export const clockTicksPerSecond = Effect.async<number>((resume) => {
  execFile("getconf", ["CLK_TCK"], (error, stdout) => {
    const ticks = Number(stdout.trim())
    resume(Effect.succeed(error === null && Number.isInteger(ticks) && ticks > 0 ? ticks : 100))
  })
})

/**
 * utime + stime in clock ticks from the text of /proc/<pid>/stat. The command name (field 2)
 * is in parentheses and may itself hold spaces or parentheses, so fields are counted from
 * the last ')': state is field 3, utime field 14, stime field 15.
 */
export const parseCpuTicks = (stat: string): number | undefined => {
  const end = stat.lastIndexOf(")")
  if (end < 0) return undefined
  const fields = stat.slice(end + 2).split(" ")
  const utime = Number(fields[14 - 3])
  const stime = Number(fields[15 - 3])
  return Number.isFinite(utime) && Number.isFinite(stime) ? utime + stime : undefined
}

/** Seconds of CPU the processes `pids` have used, summed; fails if one is gone or unreadable. */
export const processCpuSeconds = (pids: ReadonlyArray<number>) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const ticksPerSecond = yield* clockTicksPerSecond
    let ticks = 0
    for (const pid of pids) {
      const text = yield* fs.readFileString(`/proc/${pid}/stat`).pipe(
        Effect.mapError((error) => new UnexpectedResult({ message: `CPU time of process ${pid}: ${error.message}` }))
      )
      const used = parseCpuTicks(text)
      if (used === undefined) return yield* new UnexpectedResult({ message: `CPU time of process ${pid}: cannot parse "${text.slice(0, 80)}"` })
      ticks += used
    }
    return ticks / ticksPerSecond
  })
