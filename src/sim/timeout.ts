/**
 * The workloads' bound on one operation: Effect.timeout's meaning (past the bound the operation
 * is interrupted, the caller waits for it to stop and gets a TimeoutException), at a third of
 * its cost on the simulated clock, where most of a run's operations are bounded. There the
 * operation runs in one child fiber and the bound is a callback on the clock's timer queue;
 * Effect.timeout races two fibers (the operation and a sleep) per operation. On any other
 * clock (`sandstore chaos`) it is Effect.timeout.
 */
import { Cause, Duration, Effect, Exit, FiberId } from "effect"
import { SimulatedClock } from "./clock.ts"

export const boundedBy = (bound: Duration.DurationInput) =>
<A, E, R>(operation: Effect.Effect<A, E, R>): Effect.Effect<A, E | Cause.TimeoutException, R> =>
  Effect.clockWith((clock) => {
    if (!(clock instanceof SimulatedClock)) return Effect.timeout(operation, bound)
    const millis = Duration.toMillis(bound)
    return Effect.flatMap(Effect.fork(operation), (fiber) =>
      Effect.async<A, E | Cause.TimeoutException>((resume) => {
        let timedOut = false
        const cancel = clock.schedule(clock.millis + millis, () => {
          timedOut = true
          fiber.unsafeInterruptAsFork(FiberId.none)
        })
        fiber.addObserver((exit) => {
          cancel()
          if (Exit.isSuccess(exit)) resume(Effect.as(fiber.inheritAll, exit.value))
          else resume(timedOut && Exit.isInterrupted(exit) ? Effect.fail(new Cause.TimeoutException()) : exit)
        })
        // The caller stops waiting (interrupted): so does the operation.
        return Effect.sync(() => {
          cancel()
          fiber.unsafeInterruptAsFork(FiberId.none)
        })
      }))
  })
