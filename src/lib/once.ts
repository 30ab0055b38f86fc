/**
 * An Effect that runs `effect` the first time it is run and answers every run, then or later,
 * with that one outcome. What `Effect.cached` does, for the common case where it is usually not
 * run at all: `Effect.cached` builds its cache (a synchronized ref and more, ~30 Effect
 * operations) when it is called, this builds nothing until the first run.
 *
 * Runs that come while the first is under way wait for it. If the first run is interrupted, so
 * is the outcome every run sees.
 */
import { Deferred, Effect, FiberId } from "effect"

export const once = <A, E>(effect: Effect.Effect<A, E>): Effect.Effect<A, E> => {
  let outcome: Deferred.Deferred<A, E> | undefined
  // Uninterruptible from taking the first run to handing its outcome over (the run itself is
  // interruptible): an interruption in between would leave every later run waiting forever.
  return Effect.uninterruptibleMask((restore) =>
    Effect.suspend(() => {
      if (outcome !== undefined) return restore(Deferred.await(outcome))
      const first = Deferred.unsafeMake<A, E>(FiberId.none)
      outcome = first
      return Effect.zipRight(Effect.intoDeferred(restore(effect), first), restore(Deferred.await(first)))
    })
  )
}
