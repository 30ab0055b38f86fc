/**
 * Keep a session with etcd going for as long as the layer lives: whenever it ends (etcd
 * unreachable, lease lost, watch closed, or a defect in the client), wait an exponentially
 * growing, jittered delay and start it again. A session that got established resets the delay,
 * so a single hiccup after hours of health retries quickly. Time comes from Clock, jitter from Random.
 */
import { Cause, Duration, Effect, Random } from "effect"

export interface Backoff {
  readonly initial: Duration.DurationInput
  readonly max: Duration.DurationInput
}

/** The delay before retry number `failures` (0-based): doubling from `initial`, capped, times a jitter in [0.5, 1). */
export const backoffDelay = (backoff: Backoff, failures: number) =>
  Effect.map(Random.next, (jitter) => {
    const initial = Duration.toMillis(backoff.initial)
    const max = Duration.toMillis(backoff.max)
    const base = Math.min(max, initial * 2 ** Math.min(failures, 30))
    return Duration.millis(Math.round(base * (0.5 + jitter / 2)))
  })

/**
 * Run `session` forever. It receives `established`, to run once it is healthy. `onRetry` is told
 * why the session ended and how long until the next attempt (for the operator's log).
 */
export const retryForever = <E>(options: {
  readonly session: (established: Effect.Effect<void>) => Effect.Effect<never, E>
  readonly backoff: Backoff
  readonly onRetry: (cause: Cause.Cause<E>, delay: Duration.Duration) => Effect.Effect<void>
}): Effect.Effect<never> =>
  Effect.gen(function*() {
    let failures = 0
    const established = Effect.sync(() => {
      failures = 0
    })
    while (true) {
      const cause = yield* Effect.catchAllCause(options.session(established), Effect.succeed)
      const delay = yield* backoffDelay(options.backoff, failures)
      failures += 1
      yield* options.onRetry(cause, delay)
      yield* Effect.sleep(delay)
    }
  })

/** A one-line reason for a session's end: the error's message, or the defect's. */
export const reasonOf = <E>(cause: Cause.Cause<E>): string => {
  const error = Cause.squash(cause)
  return error instanceof Error ? error.message : String(error)
}
