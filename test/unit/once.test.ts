import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Exit, Fiber } from "effect"
import { once } from "../../src/lib/once.ts"

describe("once", () => {
  it.effect("runs nothing until first run, then answers every run with the first outcome", () =>
    Effect.gen(function*() {
      let runs = 0
      const memo = once(Effect.sync(() => ++runs))
      expect(runs).toBe(0)
      expect(yield* memo).toBe(1)
      expect(yield* memo).toBe(1)
      expect(runs).toBe(1)
    }))

  it.effect("a failure is the outcome of every run too", () =>
    Effect.gen(function*() {
      let runs = 0
      const memo = once(Effect.suspend(() => Effect.fail(`failed ${++runs}`)))
      expect(yield* Effect.flip(memo)).toBe("failed 1")
      expect(yield* Effect.flip(memo)).toBe("failed 1")
    }))

  it.effect("runs that come while the first is under way wait for it and share its outcome", () =>
    Effect.gen(function*() {
      let runs = 0
      const gate = yield* Deferred.make<void>()
      const memo = once(Effect.zipRight(Deferred.await(gate), Effect.sync(() => ++runs)))
      const first = yield* Effect.fork(memo)
      const second = yield* Effect.fork(memo)
      yield* Effect.yieldNow()
      expect(runs).toBe(0)
      yield* Deferred.succeed(gate, undefined)
      expect(yield* Fiber.join(first)).toBe(1)
      expect(yield* Fiber.join(second)).toBe(1)
      expect(runs).toBe(1)
    }))

  it.effect("an interrupted first run leaves later runs interrupted, never waiting forever", () =>
    Effect.gen(function*() {
      const memo = once(Effect.never)
      const first = yield* Effect.fork(memo)
      yield* Effect.yieldNow()
      yield* Fiber.interrupt(first)
      const later = yield* Effect.exit(memo)
      expect(Exit.isInterrupted(later)).toBe(true)
    }))
})
