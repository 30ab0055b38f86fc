/**
 * The bench's measuring loop under TestClock (exact op counts and latencies, failures counted
 * and never sampled), and the data-file pattern the read phase verifies against.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Fiber, TestClock } from "effect"
import { BlockPattern, DataFiles } from "../../src/bench/dataFiles.ts"
import { runWindow, Tally, UnexpectedResult, type Worker } from "../../src/bench/measure.ts"
import { NotFound } from "../../src/domain/errors.ts"

/** An operation that takes `millis` and moves `bytes`; every `failEvery`th one fails instead. */
const sleeper = (millis: number, bytes: number, failEvery = 0): Worker => {
  let count = 0
  return {
    prepare: Effect.void,
    operation: Effect.suspend(() => {
      count++
      const fails = failEvery > 0 && count % failEvery === 0
      return Effect.zipRight(
        Effect.sleep(millis),
        fails ? Effect.fail(new UnexpectedResult({ message: `op ${count} failed` })) : Effect.succeed(bytes)
      )
    })
  }
}

/** Runs the window to its end by moving the test clock well past it. */
const measure = (workers: ReadonlyArray<Worker>, millis: number) =>
  Effect.gen(function*() {
    const tally = new Tally()
    const fiber = yield* Effect.fork(runWindow(workers, `${millis} millis`, tally))
    yield* TestClock.adjust("1 minute")
    const elapsed = yield* Fiber.join(fiber)
    return { tally, elapsed }
  })

describe("bench measuring loop", () => {
  it.effect("times every operation with the clock; failures are counted, not sampled", () =>
    Effect.gen(function*() {
      const { elapsed, tally } = yield* measure([sleeper(10, 7), sleeper(25, 100, 2)], 100)
      // 10 ops of 10 ms start before the deadline; 4 of 25 ms, every 2nd failing.
      expect(tally.ops).toBe(12)
      expect(tally.errors).toBe(2)
      expect(tally.firstError).toBe("op 2 failed")
      expect(tally.bytes).toBe(10 * 7 + 2 * 100)
      expect([...tally.samples.sorted()]).toEqual([...Array(10).fill(10), 25, 25])
      expect(elapsed).toBe(0.1)
    }))

  it.effect("finishes and counts an operation started before the deadline; the window covers it", () =>
    Effect.gen(function*() {
      const { elapsed, tally } = yield* measure([sleeper(30, 1)], 100)
      expect(tally.ops).toBe(4)
      expect(elapsed).toBe(0.12)
    }))

  it.effect("a failed prepare counts as an error and skips the operation", () =>
    Effect.gen(function*() {
      let prepares = 0
      let operations = 0
      const worker: Worker = {
        prepare: Effect.suspend(() => {
          prepares++
          return prepares % 2 === 1
            ? Effect.zipRight(Effect.sleep("5 millis"), Effect.fail(new NotFound({ message: "not found", path: "/bench-x/f" })))
            : Effect.void
        }),
        operation: Effect.suspend(() => {
          operations++
          return Effect.as(Effect.sleep("5 millis"), 0)
        })
      }
      const { tally } = yield* measure([worker], 20)
      expect(prepares).toBe(4)
      expect(operations).toBe(2)
      expect(tally.ops).toBe(2)
      expect(tally.errors).toBe(2)
      expect(tally.firstError).toBe("ENOENT /bench-x/f: not found")
    }))
})

describe("bench data pattern", () => {
  const blockSize = 4096
  const pattern = new BlockPattern(blockSize, 42)

  it("a block matches where it was written, and only there", () => {
    const block = pattern.block(3, 5)
    expect(block.length).toBe(blockSize)
    expect(pattern.matches(3, 5 * blockSize, block)).toBe(true)
    expect(pattern.matches(3, 6 * blockSize, block)).toBe(false)
    expect(pattern.matches(4, 5 * blockSize, block)).toBe(false)
    expect(pattern.matches(3, 5 * blockSize + 1, block)).toBe(false)
  })

  it("consecutive blocks of a file differ", () => {
    for (let k = 0; k < 100; k++) {
      expect(Buffer.compare(pattern.block(1, k), pattern.block(1, k + 1))).not.toBe(0)
    }
  })

  it("a short read at the end of a file matches the start of its block; a changed byte does not", () => {
    const block = pattern.block(9, 2)
    expect(pattern.matches(9, 2 * blockSize, block.subarray(0, 100))).toBe(true)
    expect(pattern.matches(9, 2 * blockSize, new Uint8Array(0))).toBe(true)
    const corrupted = Uint8Array.from(block)
    corrupted[1234] ^= 1
    expect(pattern.matches(9, 2 * blockSize, corrupted)).toBe(false)
    expect(pattern.matches(9, 2 * blockSize, new Uint8Array(blockSize + 1))).toBe(false)
  })

  it("data files get distinct names and seeds; only files with bytes are readable", () => {
    const files = new DataFiles("/bench-x/data")
    const a = files.allocate("write-c1-w0")
    const b = files.allocate("write-c1-w0")
    expect(a.path).not.toBe(b.path)
    expect(a.seed).not.toBe(b.seed)
    expect(files.nonEmpty).toEqual([])
    b.bytes = blockSize
    expect(files.nonEmpty).toEqual([b])
  })
})
