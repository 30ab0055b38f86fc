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
 * Run `effect` as a request whose client waits `millis`: the work it does sees the deadline and
 * stops by it (a proposal or a read index expires with it, answering Timeout). No timer of its
 * own: for work whose every wait honours the deadline, that race (two fibers per request) is
 * pure cost. The deadline is set on the calling fiber and not restored after: this is for the
 * start of a request's own fiber (every server runs each handler in one), where a scoped
 * `Effect.locally` cost a bracket per request.
 */
export const asRequestWithin = (millis: number) =>
<A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.clockWith((clock) => Effect.zipRight(FiberRef.set(RequestDeadline, clock.unsafeCurrentTimeMillis() + millis), effect))

/**
 * `wait`, failing with Timeout if the current request's deadline passes first (no deadline: no
 * limit). For work whose waits do not read the deadline (a write's chunk transfers and
 * re-planning); it costs a timer (two fibers).
 */
export const byDeadline = (what: string) =>
<A, E, R>(wait: Effect.Effect<A, E, R>): Effect.Effect<A, E | Timeout, R> =>
  Effect.flatMap(currentDeadline, (deadline) =>
    deadline === null ? wait : Effect.flatMap(Clock.currentTimeMillis, (now) =>
      Effect.timeoutFail(wait, {
        duration: Duration.millis(Math.max(0, deadline - now)),
        onTimeout: () => new Timeout({ message: `${what} got no outcome by its request's deadline; its outcome is unknown` })
      })))

/** The earlier of `at` and the current request's deadline. */
export const capByDeadline = (at: number): Effect.Effect<number> =>
  Effect.map(currentDeadline, (deadline) => (deadline === null ? at : Math.min(at, deadline)))
