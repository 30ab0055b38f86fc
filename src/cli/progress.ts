/**
 * A one-line transfer progress display on stderr, redrawn in place; silent when stderr is not a
 * terminal (pipes and logs get no carriage-return noise).
 */
import { Effect } from "effect"

export interface Progress {
  readonly advance: (bytes: number) => Effect.Effect<void>
  readonly done: Effect.Effect<void>
}

const MiB = 1024 * 1024

const render = (label: string, done: number, total: number) => {
  const percent = total === 0 ? 100 : Math.floor((done / total) * 100)
  return `\r${label} ${(done / MiB).toFixed(1)}/${(total / MiB).toFixed(1)} MiB ${percent}%`
}

export const makeProgress = (label: string, total: number): Progress => {
  if (process.stderr.isTTY !== true) return { advance: () => Effect.void, done: Effect.void }
  let done = 0
  return {
    advance: (bytes) =>
      Effect.sync(() => {
        done += bytes
        process.stderr.write(render(label, done, total))
      }),
    done: Effect.sync(() => {
      process.stderr.write(render(label, done, total) + "\n")
    })
  }
}
