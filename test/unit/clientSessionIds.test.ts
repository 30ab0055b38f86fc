/**
 * Session ids (defect: two clients got the same request ids). Ids used to come from Effect's
 * default Random, seeded from about 31 bits per process: two processes that drew the same seed
 * issued the same ids. They now come from the OS's cryptographic generator, 128 bits each,
 * whatever Random the client runs with.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Random } from "effect"
import { SessionIds } from "../../src/client/ClientSession.ts"

/** Ids drawn as a client process would, with Effect's Random seeded by `seed`. */
const draw = (seed: number, count: number) =>
  Effect.flatMap(SessionIds, (ids) => Effect.all(Array.from({ length: count }, () => ids.next))).pipe(
    Effect.withRandom(Random.make(seed))
  )

describe("session ids", () => {
  it.effect("are 128 bits in hex", () =>
    Effect.gen(function*() {
      for (const id of yield* draw(1, 10)) expect(id).toMatch(/^[0-9a-f]{32}$/)
    }))

  it.effect("two clients whose Random drew the same seed still get different ids", () =>
    Effect.gen(function*() {
      const first = yield* draw(42, 50)
      const second = yield* draw(42, 50)
      expect(new Set([...first, ...second]).size).toBe(100)
    }))
})
