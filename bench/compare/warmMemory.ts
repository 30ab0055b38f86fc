/**
 * Touch the machine's free memory right before a large-file run. On this project's VM (a
 * Firecracker guest) memory the guest has not touched lately is backed by the host only on
 * first touch, and freed memory is handed back to the host within seconds: writing 8 MiB into
 * fresh page cache took 14-19 ms, into just-freed page cache 1 ms. Which run found memory
 * freed just before it (the disk baseline ran right after the Sandstore cluster was deleted)
 * decided much of its figure: the disk's write swung from 166 to 656 MiB/s between runs. Each
 * large-file run now starts right after `bytes` of page cache were written and deleted (with
 * the temp dir, as the scope closes), so all of them run on touched memory and the figures are
 * about the software.
 */
import { Effect } from "effect"
import { open } from "node:fs/promises"
import { join } from "node:path"
import { UnexpectedResult } from "../../src/bench/measure.ts"
import { tempDir } from "../../test/support/tempDir.ts"

const PIECE = 8 * 1024 * 1024

export const warmMemory = (bytes: number) =>
  Effect.scoped(Effect.gen(function*() {
    const file = join(yield* tempDir("sandstore-compare-warm-"), "warm")
    const piece = new Uint8Array(PIECE).fill(1)
    yield* Effect.tryPromise({
      try: async () => {
        const handle = await open(file, "w")
        try {
          for (let at = 0; at < bytes; at += PIECE) await handle.write(piece, 0, PIECE, at)
        } finally {
          await handle.close()
        }
      },
      catch: (cause) => new UnexpectedResult({ message: `warming memory: ${cause instanceof Error ? cause.message : String(cause)}` })
    })
  }))
