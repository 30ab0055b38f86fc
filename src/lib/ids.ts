/** Random identifiers drawn from Effect's `Random`, so a seeded simulation replays them. */
import { Effect, Random } from "effect"

/** `words` random 32-bit words as lowercase hex (8 characters each). */
export const randomHex = (words: number): Effect.Effect<string> =>
  Effect.map(
    Effect.all(Array.from({ length: words }, () => Random.nextIntBetween(0, 0x1_0000_0000))),
    (parts) => parts.map((n) => n.toString(16).padStart(8, "0")).join("")
  )
