/**
 * The model steps of one history operation, each with the interval it must take effect in.
 *
 * Namespace operations take effect at one point. A read, pwrite or truncate does not: the SDK
 * resolves the path to an inode first (open, lookup) and acts on that inode later (a read of
 * its chunks, a commit of its new size or chunk versions), like a POSIX file descriptor. A
 * rename between the two carries the operation along to the file's new path; an unlink or a
 * rename over the file leaves it acting on a removed inode, which fails with NotFound or, as
 * in POSIX, changes nothing visible. So these are two steps within the operation's interval:
 * `resolve` records a Handle in the state, `act` applies the operation at the handle's
 * current path and drops it; `act` has no successor before its `resolve`.
 */
import type { Operation, Result } from "../history.ts"
import { equalsBytes, equalsContent } from "./fileData.ts"
import { type Applied, apply, errorKind, type FsState, withHandle } from "./fsModel.ts"
import type { HistoryOp } from "./operations.ts"

export interface ModelStep {
  /** Position of the operation's invocation and completion in the history. */
  readonly call: number
  readonly ret: number
  /** The states this step can lead to from any of `states`. */
  readonly advance: (states: ReadonlyArray<FsState>) => Array<FsState>
}

const returned = (result: Result, applied: Extract<Applied, { _tag: "Ok" }>): boolean => {
  if (applied.file !== undefined) {
    if (result._tag === "Content") return equalsContent(applied.file, result.content)
    if (result._tag === "Bytes") return equalsBytes(applied.file, result.bytes)
    return result._tag === "Done"
  }
  if (applied.names !== undefined) {
    if (result._tag !== "Names") return result._tag === "Done"
    const names = [...result.names].sort()
    return names.length === applied.names.length && names.every((name, i) => name === applied.names![i])
  }
  return true
}

/** Adds to `next` what `applied` (the model's answer in `state`) allows, given the recorded completion. */
const admit = (next: Map<string, FsState>, state: FsState, applied: Applied, op: HistoryOp, after = (s: FsState) => s): void => {
  const add = (s: FsState) => {
    const out = after(s)
    next.set(out.key, out)
  }
  switch (op.completion.type) {
    case "ok":
      if (applied._tag === "Ok" && returned(op.completion.result, applied)) add(applied.state)
      break
    case "fail": {
      const kind = errorKind(op.completion.error)
      if (applied._tag === "Err" && kind !== undefined && applied.kinds.has(kind)) add(state)
      break
    }
    case "open":
      add(state)
      if (applied._tag === "Ok") add(applied.state)
      break
  }
}

const atomic = (op: HistoryOp): ModelStep => ({
  call: op.call,
  ret: op.ret,
  advance: (states) => {
    const next = new Map<string, FsState>()
    for (const state of states) admit(next, state, apply(state, op.op), op)
    return [...next.values()]
  }
})

/** Operations that resolve their path before they act on the inode. */
export const resolvesFirst = (op: Operation): boolean => op.f === "read" || op.f === "pwrite" || op.f === "truncate"

/** Resolving `op.path`: the same refusals as the operation itself up to the lookup (a read of the path). */
const resolution = (state: FsState, op: Operation): Applied => apply(state, { f: "read", path: op.path })

const twoSteps = (op: HistoryOp, handle: number): Array<ModelStep> => {
  const resolve: ModelStep = {
    call: op.call,
    ret: op.ret,
    advance: (states) => {
      const next = new Map<string, FsState>()
      const add = (s: FsState) => next.set(s.key, s)
      for (const state of states) {
        const found = resolution(state, op.op)
        if (found._tag === "Ok") {
          add(withHandle(state, handle, { path: op.op.path }))
          continue
        }
        const kind = op.completion.type === "fail" ? errorKind(op.completion.error) : undefined
        if (op.completion.type === "open" || (kind !== undefined && found.kinds.has(kind))) add(withHandle(state, handle, "failed"))
      }
      return [...next.values()]
    }
  }
  const act: ModelStep = {
    call: op.call,
    ret: op.ret,
    advance: (states) => {
      const next = new Map<string, FsState>()
      const drop = (s: FsState) => withHandle(s, handle, undefined)
      for (const state of states) {
        const h = state.handles.get(handle)
        if (h === undefined) continue
        if (h === "failed" || h === "dead") {
          const c = op.completion
          const allowed = c.type === "open" ||
            (c.type === "fail" && (h === "failed" || c.error === "NotFound")) ||
            (c.type === "ok" && h === "dead" && op.op.f !== "read")
          if (allowed) {
            const out = drop(state)
            next.set(out.key, out)
          }
          continue
        }
        admit(next, state, apply(state, { ...op.op, path: h.path }), op, drop)
      }
      return [...next.values()]
    }
  }
  return [resolve, act]
}

/** The steps of a partition's operations; handles are numbered by operation index. */
export const modelSteps = (ops: ReadonlyArray<HistoryOp>): Array<ModelStep> =>
  ops.flatMap((op, i) => (resolvesFirst(op.op) ? twoSteps(op, i) : [atomic(op)]))
