/**
 * The history of a run as it happens: each operation's invocation and completion, stamped with
 * Clock time since `startedAt` (simulated time in a simulation), in the order they were seen.
 * Fibers interleave only at yields, so pushing in one synchronous step keeps that order. The
 * simulation and the chaos run both record through it.
 */
import { Clock, Effect } from "effect"
import type { Event, History, Operation, Result } from "./history.ts"

export interface Recorder {
  /** Record `op` invoked by `client`; resolves with its id for the completion. */
  readonly invoke: (client: number, op: Operation) => Effect.Effect<number>
  readonly ok: (id: number, client: number, result: Result) => Effect.Effect<void>
  readonly fail: (id: number, client: number, error: string) => Effect.Effect<void>
  readonly info: (id: number, client: number, error: string) => Effect.Effect<void>
  readonly history: () => History
}

export const makeRecorder = (startedAt = 0): Recorder => {
  const events: Array<Event> = []
  let nextId = 0
  const push = (make: (time: number) => Event) =>
    Effect.map(Clock.currentTimeMillis, (now) => {
      events.push(make(now - startedAt))
    })
  return {
    invoke: (client, op) =>
      Effect.suspend(() => {
        const id = nextId++
        return Effect.as(push((time) => ({ type: "invoke", id, client, time, op })), id)
      }),
    ok: (id, client, result) => push((time) => ({ type: "ok", id, client, time, result })),
    fail: (id, client, error) => push((time) => ({ type: "fail", id, client, time, error })),
    info: (id, client, error) => push((time) => ({ type: "info", id, client, time, error })),
    history: () => events.slice()
  }
}
