import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit, Fiber, TestClock } from "effect"
import { asRequestWithin, byDeadline } from "../../src/lib/deadline.ts"

describe("byDeadline", () => {
  it.effect("work done before the request's deadline answers as itself", () =>
    Effect.gen(function*() {
      const fiber = yield* Effect.fork(asRequestWithin(1000)(byDeadline("Write")(Effect.as(Effect.sleep("400 millis"), "done"))))
      yield* TestClock.adjust("400 millis")
      expect(yield* Fiber.join(fiber)).toBe("done")
      const failed = yield* asRequestWithin(1000)(byDeadline("Write")(Effect.fail("refused"))).pipe(Effect.flip)
      expect(failed).toBe("refused")
    }))

  it.effect("work past the deadline is interrupted, and Timeout answered once it stopped", () =>
    Effect.gen(function*() {
      const events: Array<string> = []
      const slow = Effect.onInterrupt(Effect.never, () => Effect.sync(() => events.push("work stopped")))
      const fiber = yield* Effect.fork(asRequestWithin(1000)(byDeadline("Write")(slow)).pipe(
        Effect.tapError(() => Effect.sync(() => events.push("answered")))
      ))
      yield* TestClock.adjust("999 millis")
      expect(fiber.unsafePoll()).toBeNull()
      yield* TestClock.adjust("1 millis")
      const error = yield* Effect.flip(Fiber.join(fiber))
      expect(error._tag).toBe("Timeout")
      expect(error.message).toContain("Write got no outcome by its request's deadline")
      expect(events).toEqual(["work stopped", "answered"])
    }))

  it.effect("without a deadline the work runs unbounded", () =>
    Effect.gen(function*() {
      const fiber = yield* Effect.fork(byDeadline("Read")(Effect.as(Effect.sleep("1 hour"), 7)))
      yield* TestClock.adjust("1 hour")
      expect(yield* Fiber.join(fiber)).toBe(7)
    }))

  it.effect("interrupting the caller interrupts the work and leaves no timer behind", () =>
    Effect.gen(function*() {
      let stopped = false
      const fiber = yield* Effect.fork(asRequestWithin(1000)(byDeadline("Write")(Effect.onInterrupt(Effect.never, () => Effect.sync(() => { stopped = true })))))
      yield* TestClock.adjust("10 millis")
      const exit = yield* Fiber.interrupt(fiber)
      expect(Exit.isInterrupted(exit)).toBe(true)
      expect(stopped).toBe(true)
      yield* TestClock.adjust("2 seconds")
    }))
})
