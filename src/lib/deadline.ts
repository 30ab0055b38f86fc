/**
 * The deadline of the request a fiber works for: the Clock time (millis) after which nobody
 * waits for its answer. The server sets it from what the client said it will wait; work done
 * for the request reads it to stop in time — a proposal expires with it, a write stops
 * re-planning — instead of running on for a caller that has gone.
 */
import { Clock, Duration, Effect, FiberRef } from "effect"
import { Timeout } from "../domain/errors.ts"

export const RequestDeadline = FiberRef.unsafeMake<number | null>(null)

/** The current request's deadline, if it has one. */
export const currentDeadline: Effect.Effect<number | null> = FiberRef.get(RequestDeadline)

/**
 * Run `effect` for a request that must be answered within `millis`: it sees the deadline, and
 * is cut short with Timeout (outcome unknown) when it passes.
 */
export const withinDeadline = (millis: number, what: string) =>
<A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E | Timeout, R> =>
  Effect.flatMap(Clock.currentTimeMillis, (now) =>
    effect.pipe(
      Effect.locally(RequestDeadline, now + millis),
      Effect.timeoutFail({
        duration: Duration.millis(millis),
        onTimeout: () => new Timeout({ message: `${what} got no answer within the ${millis} ms its client waits; its outcome is unknown` })
      })
    ))

/** The earlier of `at` and the current request's deadline. */
export const capByDeadline = (at: number): Effect.Effect<number> =>
  Effect.map(currentDeadline, (deadline) => (deadline === null ? at : Math.min(at, deadline)))
