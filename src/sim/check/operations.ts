/**
 * A history's events paired into operations: each invocation with its completion. An `info`
 * completion, or none at all (the run ended first), leaves the operation open forever: it may
 * take effect at any point after its invocation, or never.
 */
import type { Event, History, Operation, Result } from "../history.ts"

export type Completion =
  | { readonly type: "ok"; readonly result: Result }
  | { readonly type: "fail"; readonly error: string }
  | { readonly type: "open" }

export interface HistoryOp {
  readonly id: number
  readonly client: number
  readonly op: Operation
  /** Position of the invocation in the history. */
  readonly call: number
  /** Position of the completion; Infinity for an open operation. */
  readonly ret: number
  readonly completion: Completion
  /** The operation's own events and their positions, to rebuild a sub-history. */
  readonly events: ReadonlyArray<readonly [number, Event]>
}

/** Pairs events by id; a completion without an invocation is ignored (it names nothing to check). */
export const toOperations = (history: History): Array<HistoryOp> => {
  const open = new Map<number, { event: Extract<Event, { type: "invoke" }>; call: number }>()
  const done: Array<HistoryOp> = []
  history.forEach((event, position) => {
    if (event.type === "invoke") {
      open.set(event.id, { event, call: position })
      return
    }
    const invoked = open.get(event.id)
    if (invoked === undefined) return
    open.delete(event.id)
    const base = {
      id: event.id,
      client: invoked.event.client,
      op: invoked.event.op,
      call: invoked.call,
      events: [[invoked.call, invoked.event], [position, event]] as const
    }
    done.push(
      event.type === "ok"
        ? { ...base, ret: position, completion: { type: "ok", result: event.result } }
        : event.type === "fail"
        ? { ...base, ret: position, completion: { type: "fail", error: event.error } }
        : { ...base, ret: Infinity, completion: { type: "open" } }
    )
  })
  for (const { event, call } of open.values()) {
    done.push({ id: event.id, client: event.client, op: event.op, call, ret: Infinity, completion: { type: "open" }, events: [[call, event]] })
  }
  return done.sort((a, b) => a.call - b.call)
}

/** The events of some operations, in their original order. */
export const toHistory = (ops: ReadonlyArray<HistoryOp>): History => {
  const positioned = ops.flatMap((op) => op.events)
  return positioned.sort((a, b) => a[0] - b[0]).map(([, event]) => event)
}

/** The paths an operation names. */
export const pathsOf = (op: Operation): ReadonlyArray<string> => (op.f === "rename" ? [op.path, op.to] : [op.path])
