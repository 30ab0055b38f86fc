/**
 * The chaos run's history as it happens: every client operation's invocation and completion in
 * the order they were observed, stamped with milliseconds since the run started (Clock). The
 * vocabulary is the simulation's (src/sim/history.ts), so the same checkers read it.
 */
import { Clock, Effect } from "effect"
import type { Event, History, Operation, Result } from "../../sim/history.ts"

export interface HistoryLog {
  /** Record `op` invoked by `client`; resolves with the id its completion must carry. */
  readonly invoke: (client: number, op: Operation) => Effect.Effect<number>
  readonly ok: (id: number, client: number, result: Result) => Effect.Effect<void>
  /** It definitely did not happen: a namespace refusal such as NotFound or AlreadyExists. */
  readonly fail: (id: number, client: number, error: string) => Effect.Effect<void>
  /** It may or may not have happened: a timeout, an unreachable cluster. */
  readonly info: (id: number, client: number, error: string) => Effect.Effect<void>
  readonly history: Effect.Effect<History>
}

export const makeHistoryLog = (startedAt: number): HistoryLog => {
  // Fibers interleave only at yields, so pushing in one synchronous step keeps the order observed.
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
    history: Effect.sync(() => events.slice())
  }
}
