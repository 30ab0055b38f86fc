/** The workloads' operation bound on the simulated clock: Effect.timeout's meaning, without its race. */
import { describe, expect, it } from "@effect/vitest"
import { Cause, Deferred, Effect, Either, Fiber } from "effect"
import { SimulatedClock } from "../../src/sim/clock.ts"
import { boundedBy } from "../../src/sim/timeout.ts"

/** Run `effect` on a fresh simulated clock, stepping time until it completes. */
const onSimulatedTime = <A, E>(effect: Effect.Effect<A, E>) =>
  Effect.gen(function*() {
    const clock = new SimulatedClock()
    const fiber = yield* Effect.fork(Effect.withClock(effect, clock))
    yield* clock.runUntil(() => fiber.unsafePoll() !== null, 60_000)
    return { result: yield* Fiber.join(fiber), now: clock.millis }
  })

describe("boundedBy on the simulated clock", () => {
  it.live("an operation that ends within the bound gives its result, at its own time", () =>
    Effect.gen(function*() {
      const { result, now } = yield* onSimulatedTime(Effect.as(Effect.sleep("300 millis"), 7).pipe(boundedBy("1 second")))
      expect(result).toBe(7)
      expect(now).toBe(300)
    }))

  it.live("an operation past the bound is interrupted, and the caller gets TimeoutException once it stopped", () =>
    Effect.gen(function*() {
      const stopped = yield* Deferred.make<number>()
      const hung = Effect.never.pipe(
        Effect.onInterrupt(() => Effect.flatMap(Effect.clockWith((clock) => clock.currentTimeMillis), (t) => Deferred.succeed(stopped, t)))
      )
      const { result, now } = yield* onSimulatedTime(Effect.either(hung.pipe(boundedBy("1 second"))))
      expect(Either.isLeft(result) && Cause.isTimeoutException(result.left)).toBe(true)
      expect(now).toBe(1000)
      expect(yield* Deferred.await(stopped)).toBe(1000)
    }))

  it.live("a failure within the bound is the operation's own", () =>
    Effect.gen(function*() {
      const { result } = yield* onSimulatedTime(Effect.either(Effect.fail("refused" as const).pipe(boundedBy("1 second"))))
      expect(result).toEqual(Either.left("refused"))
    }))
})
