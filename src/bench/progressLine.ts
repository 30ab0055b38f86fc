/**
 * The live progress line of a running window on stderr, redrawn in place; nothing at all when
 * stderr is not a terminal (pipes and logs get no carriage-return noise).
 */
import { Effect } from "effect"
import type { Progress } from "./runBench.ts"

/** `write c=16 timed 3.0s: 1234 ops, 411.3 ops/s, 0 errors` */
export const renderProgress = (progress: Progress): string => {
  const rate = progress.elapsedSeconds > 0 ? progress.ops / progress.elapsedSeconds : 0
  return `${progress.phase} c=${progress.concurrency} ${progress.stage} ${progress.elapsedSeconds.toFixed(1)}s: ` +
    `${progress.ops} ops, ${rate.toFixed(1)} ops/s, ${progress.errors} errors`
}

export interface ProgressLine {
  readonly update: (progress: Progress) => Effect.Effect<void>
  /** erases the line, before other output */
  readonly clear: Effect.Effect<void>
}

const ERASE_LINE = "\r\x1b[2K"

export const makeProgressLine = (enabled: boolean = process.stderr.isTTY === true): ProgressLine => {
  if (!enabled) return { update: () => Effect.void, clear: Effect.void }
  let drawn = false
  return {
    update: (progress) =>
      Effect.sync(() => {
        process.stderr.write(ERASE_LINE + renderProgress(progress))
        drawn = true
      }),
    clear: Effect.sync(() => {
      if (drawn) process.stderr.write(ERASE_LINE)
      drawn = false
    })
  }
}
