/** The shape of every background sweep on a node: run, pause, again, for the life of the layer. */
import { type Duration, Effect } from "effect"

/**
 * Fork `sweep` into the layer's scope, repeated `every` apart; a sweep that fails is logged and
 * the next one runs as usual. A plain loop: a Schedule costs more than an idle sweep.
 */
export const supervisedLoop = <E, R>(name: string, sweep: Effect.Effect<void, E, R>, every: Duration.DurationInput) =>
  sweep.pipe(
    Effect.catchAllCause((cause) => Effect.logWarning(`${name} failed; retrying next round`, cause)),
    Effect.zipRight(Effect.sleep(every)),
    Effect.forever,
    Effect.forkScoped
  )
