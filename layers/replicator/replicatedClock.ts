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
const monotonicMillis = (clock: Clock.Clock): number => {
  try {
    return Number(clock.unsafeCurrentTimeNanos() / 1_000_000n)
  } catch {
    return clock.unsafeCurrentTimeMillis()
  }
}

export interface ReplicatedClock {
  /** The reading a new entry proposed now carries. */
  readonly now: () => number
  /** `now`, as an Effect. */
  readonly read: Effect.Effect<number>
  /** An entry carrying `clock` was applied here now: the reading moves up to it (never down). */
  readonly applied: (clock: number | undefined) => void
}

/**
 * `stored`: the clock of the store this node booted from (0: a store that never applied an
 * entry). Read synchronously on the Clock of the fiber that makes it: the replicator calls it
 * once per entry, on its hot path.
 */
export const makeReplicatedClock = (stored: number): Effect.Effect<ReplicatedClock> =>
  Effect.clockWith((clock) =>
    Effect.sync(() => {
      let base = stored
      let baseMono = monotonicMillis(clock)
      // Whether any clock is known yet: a brand-new cluster's first proposals seed it from the wall clock.
      let known = stored > 0
      const now = () => (known ? base + Math.max(0, monotonicMillis(clock) - baseMono) : clock.unsafeCurrentTimeMillis())
      const applied = (entryClock: number | undefined) => {
        if (entryClock === undefined) return
        const mono = monotonicMillis(clock)
        if (!known || entryClock > base + Math.max(0, mono - baseMono)) {
          base = entryClock
          baseMono = mono
          known = true
        }
      }
      return { now, read: Effect.sync(now), applied }
    })
  )
