/**
 * Where a simulation's fibers run. Effect's default scheduler yields a busy fiber through
 * a zero-delay real timer, whose order against `setImmediate` (which in-memory stores and
 * the simulation's own settling use) depends on wall-clock time — enough to make two runs of
 * one seed diverge. This scheduler yields through `setImmediate` instead, so every task of a
 * run is ordered by the event loop's queues alone, the same on every run.
 */
import { Scheduler } from "effect"
import type { RuntimeFiber } from "effect/Fiber"

/** Microtask drains in a row before a busy fiber yields to the macrotask queue. */
const MAX_MICROTASK_DRAINS = 2048

const runner = Scheduler.SchedulerRunner.cached((depth, drain) => {
  if (depth >= MAX_MICROTASK_DRAINS) setImmediate(() => drain(0))
  else Promise.resolve(undefined).then(() => drain(depth + 1))
})

export const simulationScheduler: Scheduler.Scheduler = {
  shouldYield: (fiber: RuntimeFiber<unknown, unknown>) => Scheduler.defaultShouldYield(fiber),
  scheduleTask: (task, priority, fiber) => runner(fiber).scheduleTask(task, priority)
}

/** Event-loop turns per settle: most work finishes in microtasks before the first. */
const SETTLE_TURNS = 2

/**
 * Call `then` once every runnable fiber and pending in-memory promise has run: after a few
 * turns of the event loop (each `setImmediate` lands after the tasks queued before it).
 */
export const afterSettling = (then: () => void, turns = SETTLE_TURNS): void => {
  setImmediate(() => (turns <= 1 ? then() : afterSettling(then, turns - 1)))
}
