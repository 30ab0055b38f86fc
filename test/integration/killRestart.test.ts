/**
 * Acknowledged means durable: a node killed with SIGKILL in the middle of a stream of writes
 * comes back with every write it acknowledged, byte for byte.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { connect, type SandstoreFs } from "../../src/client/promises.ts"
import { patternBytes } from "../support/client-node.ts"
import { freePort, startNode } from "../support/nodeProcess.ts"
import { tempDir } from "../support/tempDir.ts"

const BLOCK = 256 * 1024
const WRITERS = 4

interface Acked {
  readonly path: string
  readonly offset: number
  readonly seed: number
  readonly length: number
}

/** Writers give up quickly once the node is gone; the verifier uses the default retries. */
const FAIL_FAST = { retries: 1, baseDelay: "10 millis", maxDelay: "10 millis", attemptTimeout: "10 seconds" } as const

const connectTo = (address: string, retry?: typeof FAIL_FAST) =>
  Effect.acquireRelease(
    Effect.promise(() => connect({ seeds: [address], ...(retry ? { retry } : {}) })),
    (fs) => Effect.promise(() => fs.close())
  )

/** Writer `w` keeps writing: a new small file, then a block at the next offset of its big file. */
const writer = async (fs: SandstoreFs, w: number, acked: Array<Acked>, stop: { done: boolean }) => {
  let i = 0
  while (!stop.done) {
    const seed = w * 100_000 + i
    try {
      const small = patternBytes(1000 + i, seed)
      await fs.writeFile(`/w${w}/f${i}`, small)
      acked.push({ path: `/w${w}/f${i}`, offset: 0, seed, length: small.length })
      const fh = await fs.open(`/w${w}/big`, "r+")
      await fh.write(patternBytes(BLOCK, seed + 50_000), 0, BLOCK, i * BLOCK)
      await fh.close()
      acked.push({ path: `/w${w}/big`, offset: i * BLOCK, seed: seed + 50_000, length: BLOCK })
    } catch {
      return // the node is gone: everything not acknowledged may or may not be there
    }
    i++
  }
}

describe("kill -9 during writes", () => {
  it.scopedLive("every acknowledged write reads back exactly after a restart", () =>
    Effect.gen(function*() {
      const dataDir = yield* tempDir()
      const port = yield* freePort
      const node = yield* startNode({ id: "n1", port, dataDir })
      const acked: Array<Acked> = []
      yield* Effect.scoped(Effect.gen(function*() {
        const fs = yield* connectTo(node.address, FAIL_FAST)
        for (let w = 0; w < WRITERS; w++) {
          yield* Effect.promise(() => fs.mkdir(`/w${w}`))
          yield* Effect.promise(() => fs.writeFile(`/w${w}/big`, new Uint8Array(0)))
        }
        const stop = { done: false }
        const writers = Array.from({ length: WRITERS }, (_, w) => writer(fs, w, acked, stop))
        // kill mid-stream, once a good number of writes were acknowledged
        yield* Effect.promise(async () => {
          while (acked.length < 60) await new Promise((r) => setImmediate(r))
        })
        yield* node.kill("SIGKILL")
        stop.done = true
        yield* Effect.promise(() => Promise.all(writers))
      }))
      expect(acked.length).toBeGreaterThanOrEqual(60)

      const restarted = yield* startNode({ id: "n1", port, dataDir })
      const fs = yield* connectTo(restarted.address)
      for (const write of acked) {
        const fh = yield* Effect.promise(() => fs.open(write.path, "r"))
        const { bytesRead, buffer } = yield* Effect.promise(() => fh.read(Buffer.alloc(write.length), 0, write.length, write.offset))
        yield* Effect.promise(() => fh.close())
        expect(bytesRead, write.path).toBe(write.length)
        expect(Buffer.compare(buffer, Buffer.from(patternBytes(write.length, write.seed))), `${write.path}@${write.offset}`).toBe(0)
      }
    }), { timeout: 60_000 })
})
