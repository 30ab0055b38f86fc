/**
 * The deadline of the request a fiber works for: the Clock time (millis) after which nobody
 * waits for its answer. The server sets it from what the client said it will wait; work done
 * for the request reads it to stop in time — a proposal expires with it, a write stops
 * re-planning — instead of running on for a caller that has gone.
 */
import { Clock, Duration, Effect, Exit, Fiber, FiberId, FiberRef, Runtime } from "effect"
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
 * re-planning). As `Effect.timeoutFail`: `wait` runs in a fiber of its own beside a timer on the
 * Clock, and past the deadline it is interrupted, and Timeout answered once it stopped. Built
 * from the two fibers and their callbacks (~15 Effect operations) instead of `timeoutFail`'s race
 * (~60), on every write and read a node serves.
 */
export const byDeadline = (what: string) =>
<A, E, R>(wait: Effect.Effect<A, E, R>): Effect.Effect<A, E | Timeout, R> =>
  Effect.flatMap(currentDeadline, (deadline) =>
    deadline === null ? wait : Effect.flatMap(Effect.runtime<R>(), (runtime) =>
      Effect.async<A, E | Timeout>((resume) => {
        const run = Runtime.runFork(runtime)
        let timedOut = false
        const work = run(wait)
        const timer = run(Effect.flatMap(Clock.currentTimeMillis, (now) => Effect.sleep(Duration.millis(Math.max(0, deadline - now)))))
        work.addObserver((exit) => {
          timer.unsafeInterruptAsFork(FiberId.none)
          resume(
            timedOut && Exit.isInterrupted(exit)
              ? Effect.fail(new Timeout({ message: `${what} got no outcome by its request's deadline; its outcome is unknown` }))
              : exit
          )
        })
        timer.addObserver((exit) => {
          if (Exit.isSuccess(exit) && work.unsafePoll() === null) {
            timedOut = true
            work.unsafeInterruptAsFork(FiberId.none)
          }
        })
        // The caller is interrupted: both go, and it waits for them.
        return Effect.asVoid(Fiber.interruptAll([work, timer]))
      })))

/** The earlier of `at` and the current request's deadline. */
export const capByDeadline = (at: number): Effect.Effect<number> =>
  Effect.map(currentDeadline, (deadline) => (deadline === null ? at : Math.min(at, deadline)))
