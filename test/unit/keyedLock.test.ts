import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Fiber } from "effect"
import { makeKeyedLock } from "../../src/lib/keyedLock.ts"

/** Let forked fibers run until `done` holds (bounded). */
const settle = (done: () => boolean) =>
  Effect.gen(function*() {
    for (let turns = 0; turns < 100 && !done(); turns++) yield* Effect.yieldNow()
  })

describe("keyedLock", () => {
  it.effect("one holder per key, the others in the order they asked; other keys do not wait", () =>
    Effect.gen(function*() {
      const lock = makeKeyedLock()
      const order: Array<string> = []
      const gate = yield* Deferred.make<void>()
      const first = yield* Effect.fork(lock.withLock("a", Effect.zipRight(Deferred.await(gate), Effect.sync(() => order.push("a1")))))
      yield* settle(() => lock.held() === 1)
      const second = yield* Effect.fork(lock.withLock("a", Effect.sync(() => order.push("a2"))))
      const third = yield* Effect.fork(lock.withLock("a", Effect.sync(() => order.push("a3"))))
      const other = yield* Effect.fork(lock.withLock("b", Effect.sync(() => order.push("b"))))
      yield* Fiber.join(other)
      expect(order).toEqual(["b"])
      yield* Deferred.succeed(gate, undefined)
      yield* Fiber.join(first)
      yield* Fiber.join(second)
      yield* Fiber.join(third)
      expect(order).toEqual(["b", "a1", "a2", "a3"])
      expect(lock.held()).toBe(0)
    }))

  it.effect("a failing or interrupted holder releases the key", () =>
    Effect.gen(function*() {
      const lock = makeKeyedLock()
      expect(yield* Effect.flip(lock.withLock("a", Effect.fail("no")))).toBe("no")
      expect(lock.held()).toBe(0)
      const holder = yield* Effect.fork(lock.withLock("a", Effect.never))
      yield* settle(() => lock.held() === 1)
      yield* Fiber.interrupt(holder)
      expect(lock.held()).toBe(0)
      expect(yield* lock.withLock("a", Effect.succeed(1))).toBe(1)
    }))

  it.effect("a waiter interrupted in line leaves it; the next one still gets the key", () =>
    Effect.gen(function*() {
      const lock = makeKeyedLock()
      const gate = yield* Deferred.make<void>()
      const ran: Array<string> = []
      const holder = yield* Effect.fork(lock.withLock("a", Deferred.await(gate)))
      yield* settle(() => lock.held() === 1)
      const quitter = yield* Effect.fork(lock.withLock("a", Effect.sync(() => ran.push("quitter"))))
      const patient = yield* Effect.fork(lock.withLock("a", Effect.sync(() => ran.push("patient"))))
      yield* Effect.yieldNow()
      yield* Fiber.interrupt(quitter)
      yield* Deferred.succeed(gate, undefined)
      yield* Fiber.join(holder)
      yield* Fiber.join(patient)
      expect(ran).toEqual(["patient"])
      expect(lock.held()).toBe(0)
    }))

  it.effect("lock and unlock hold a key across steps: a withLock of it waits for the unlock", () =>
    Effect.gen(function*() {
      const lock = makeKeyedLock()
      const ran: Array<string> = []
      yield* lock.lock("a")
      const waiting = yield* Effect.fork(lock.withLock("a", Effect.sync(() => ran.push("after"))))
      yield* settle(() => false)
      expect(ran).toEqual([])
      lock.unlock("a")
      yield* Fiber.join(waiting)
      expect(ran).toEqual(["after"])
      expect(lock.held()).toBe(0)
    }))
})
