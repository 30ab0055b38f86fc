/**
 * Request ids of mutations: "<clientId>:<seq>". The client id is random per client (from
 * `Random`, so a seeded test replays it) and the sequence counts up, so every mutation gets an id
 * no other mutation anywhere shares, and a retry reuses its id for the node to deduplicate.
 */
import { Effect, Random, Ref } from "effect"

export interface RequestIds {
  readonly clientId: string
  readonly next: Effect.Effect<string>
}

const hex32 = Random.nextIntBetween(0, 2 ** 32).pipe(Effect.map((n) => n.toString(16).padStart(8, "0")))

export const makeRequestIds: Effect.Effect<RequestIds> = Effect.gen(function*() {
  const clientId = (yield* hex32) + (yield* hex32)
  const seq = yield* Ref.make(0)
  return {
    clientId,
    next: Ref.updateAndGet(seq, (n) => n + 1).pipe(Effect.map((n) => `${clientId}:${n}`))
  }
})
