/**
 * This node's reading of the replicated clock: the state machine's own notion of time, which
 * transaction expiry, session expiry and the collector's orphan grace are measured on. An entry
 * carries the clock its proposer read, and the state machine's clock is the largest it applied.
 *
 * The reading is the clock of the last entry applied here plus the time elapsed since, by the
 * node's monotonic clock — never its wall clock. A node whose wall clock is wrong or jumps (an
 * hour ahead, say) therefore cannot drag the replicated clock along and make every other
 * node's transactions look expired; the wall clock only seeds the clock of a brand-new cluster.
 * Elapsed time is a lower bound across restarts and leader changes, so the clock can lag, never
 * run ahead: things expire a little late, never early.
 */
import { Clock, Effect } from "effect"

/**
 * Monotonic milliseconds (the Clock's nanosecond reading, which does not follow wall clock
 * changes). Effect's TestClock cannot report nanoseconds at a fractional millisecond; its
 * millisecond reading is the same time source there.
 */
const monotonicMillis = Effect.clockWith((clock) =>
  Effect.sync(() => {
    try {
      return Number(clock.unsafeCurrentTimeNanos() / 1_000_000n)
    } catch {
      return clock.unsafeCurrentTimeMillis()
    }
  })
)

/** `stored`: the clock of the store this node booted from (0: a store that never applied an entry). */
export const makeReplicatedClock = (stored: number) =>
  Effect.map(monotonicMillis, (bootMono) => {
    let base = stored
    let baseMono = bootMono
    // Whether any clock is known yet: a brand-new cluster's first proposals seed it from the wall clock.
    let known = stored > 0
    /** The reading a new entry proposed now carries. */
    const read = Effect.gen(function*() {
      if (!known) return yield* Clock.currentTimeMillis
      const mono = yield* monotonicMillis
      return base + Math.max(0, mono - baseMono)
    })
    /** An entry carrying `clock` was applied here now: the reading moves up to it (never down). */
    const applied = (clock: number | undefined) =>
      clock === undefined ? Effect.void : Effect.map(monotonicMillis, (mono) => {
        if (!known || clock > base + Math.max(0, mono - baseMono)) {
          base = clock
          baseMono = mono
          known = true
        }
      })
    return { read, applied }
  })

export type ReplicatedClock = Effect.Effect.Success<ReturnType<typeof makeReplicatedClock>>
