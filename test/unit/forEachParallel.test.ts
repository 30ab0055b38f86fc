import { describe, expect, it } from "@effect/vitest"
import { Cause, Deferred, Effect, Exit, Fiber, Option, Ref } from "effect"
import { forEachParallel } from "../../src/lib/forEachParallel.ts"

describe("forEachParallel", () => {
  it.effect("answers in the order of the items, whatever order they finish in", () =>
    Effect.gen(function*() {
      const gates = yield* Effect.forEach([0, 1, 2], () => Deferred.make<void>())
      const fiber = yield* Effect.fork(forEachParallel([0, 1, 2], (i) => Effect.as(Deferred.await(gates[i]!), i * 10)))
      for (const i of [2, 0, 1]) {
        yield* Effect.yieldNow()
        yield* Deferred.succeed(gates[i]!, undefined)
      }
      expect(yield* Fiber.join(fiber)).toEqual([0, 10, 20])
    }))

  it.effect("runs every item at once, not one after the other", () =>
    Effect.gen(function*() {
      const started = yield* Ref.make(0)
      const release = yield* Deferred.make<void>()
      const fiber = yield* Effect.fork(forEachParallel([1, 2, 3], () => Effect.zipRight(Ref.update(started, (n) => n + 1), Deferred.await(release))))
      // Each item waits for the release, so they can only all start if they run side by side.
      for (let turns = 0; turns < 100 && (yield* Ref.get(started)) < 3; turns++) yield* Effect.yieldNow()
      expect(yield* Ref.get(started)).toBe(3)
      yield* Deferred.succeed(release, undefined)
      yield* Fiber.join(fiber)
    }))

  it.effect("the first failure is the outcome, and the items still running are interrupted", () =>
    Effect.gen(function*() {
      for (const failing of [0, 1, 2]) {
        const running = new Set<number>()
        const item = (i: number) =>
          i === failing
            ? Effect.zipRight(Effect.yieldNow(), Effect.fail(`item ${i}`))
            : Effect.onInterrupt(Effect.zipRight(Effect.sync(() => running.add(i)), Effect.never), () => Effect.sync(() => running.delete(i)))
        const exit = yield* Effect.exit(forEachParallel([0, 1, 2], item))
        expect(Exit.isFailure(exit) && Cause.failureOption(exit.cause)).toEqual(Option.some(`item ${failing}`))
        expect([...running]).toEqual([])
      }
    }))

  it.effect("a single item runs in place and fails as itself", () =>
    Effect.gen(function*() {
      expect(yield* forEachParallel([7], (i) => Effect.succeed(i + 1))).toEqual([8])
      expect(yield* Effect.exit(forEachParallel([7], () => Effect.fail("no")))).toEqual(Exit.fail("no"))
    }))

  it.effect("more items than the bound run at most that many at a time", () =>
    Effect.gen(function*() {
      let running = 0
      let peak = 0
      const results = yield* forEachParallel([1, 2, 3, 4, 5], (i) =>
        Effect.gen(function*() {
          running++
          peak = Math.max(peak, running)
          yield* Effect.yieldNow()
          running--
          return i
        }), 2)
      expect(results).toEqual([1, 2, 3, 4, 5])
      expect(peak).toBe(2)
    }))

  it.effect("interrupting the caller interrupts every item and waits until they stopped", () =>
    Effect.gen(function*() {
      const running = new Set<number>()
      const item = (i: number) =>
        Effect.onInterrupt(Effect.zipRight(Effect.sync(() => running.add(i)), Effect.never), () =>
          Effect.zipRight(Effect.yieldNow(), Effect.sync(() => running.delete(i))))
      const fiber = yield* Effect.fork(forEachParallel([0, 1, 2], item))
      for (let turns = 0; turns < 100 && running.size < 3; turns++) yield* Effect.yieldNow()
      expect(running.size).toBe(3)
      yield* Fiber.interrupt(fiber)
      expect([...running]).toEqual([])
    }))
})
