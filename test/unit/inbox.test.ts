import { describe, expect, it } from "@effect/vitest"
import { Effect, Fiber, Option, TestClock } from "effect"
import { Inbox } from "../../src/lib/inbox.ts"

describe("Inbox", () => {
  it.effect("a take waits for the first offer and gets everything queued, oldest first", () =>
    Effect.gen(function*() {
      const inbox = new Inbox<number>()
      const taker = yield* Effect.fork(inbox.takeAll)
      yield* Effect.yieldNow()
      inbox.offer(1)
      inbox.offer(2)
      expect(yield* Fiber.join(taker)).toEqual([1, 2])
      inbox.offer(3)
      expect(yield* inbox.takeAll).toEqual([3])
    }))

  it.effect("an interrupted take loses nothing: what is offered after it goes to the next take", () =>
    Effect.gen(function*() {
      const inbox = new Inbox<string>()
      const other = new Inbox<number>()
      const gaveUp = yield* Effect.fork(inbox.takeAll)
      const gaveUpBoth = yield* Effect.fork(Inbox.takeAllOfBoth(inbox, other))
      yield* Effect.yieldNow()
      yield* Fiber.interrupt(gaveUp)
      yield* Fiber.interrupt(gaveUpBoth)
      inbox.offer("a")
      other.offer(7)
      expect(yield* inbox.takeAll).toEqual(["a"])
      expect(yield* Inbox.takeAllOfBoth(inbox, other)).toEqual([[], [7]])
      const later = yield* Effect.fork(inbox.takeAll)
      yield* Effect.yieldNow()
      inbox.offer("b")
      expect(yield* Fiber.join(later)).toEqual(["b"])
    }))

  it.effect("a timed-out take, then an offer, then a take: the offer is taken once", () =>
    Effect.gen(function*() {
      const inbox = new Inbox<number>()
      const timedOut = yield* Effect.fork(Effect.timeoutOption(inbox.takeAll, "10 millis"))
      yield* Effect.yieldNow()
      yield* TestClock.adjust("20 millis")
      expect(yield* Fiber.join(timedOut)).toEqual(Option.none())
      inbox.offer(5)
      expect(inbox.size).toBe(1)
      expect(yield* inbox.takeAll).toEqual([5])
      expect(inbox.size).toBe(0)
    }))

  it("a full inbox drops the oldest (sliding) or refuses the newest (dropping)", () => {
    const sliding = new Inbox<number>({ capacity: 2, overflow: "sliding" })
    const dropping = new Inbox<number>({ capacity: 2, overflow: "dropping" })
    for (const n of [1, 2, 3]) {
      sliding.offer(n)
      dropping.offer(n)
    }
    expect(sliding.poll()).toEqual([2, 3])
    expect(dropping.poll()).toEqual([1, 2])
  })
})
