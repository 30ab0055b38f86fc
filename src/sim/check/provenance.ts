/**
 * Keeps a shrunk violation meaningful. Against an empty initial namespace, one read of content
 * that some write produced already fails on its own ("nobody wrote this"), which hides the real
 * anomaly (a stale or lost write). So a candidate sub-history must keep the cause of what it
 * observes whenever the full history had one: an observed existing path keeps an operation
 * that can create it, an observed pattern keeps a write of that pattern. A path or pattern that
 * nothing in the full history produced stays observable on its own: that is the anomaly.
 * Likewise an observed absence keeps a removal when the candidate keeps a creation. A cause
 * is another operation invoked before the observation completed. The parent an operation acted
 * in is observed too.
 */
import type { Operation } from "../history.ts"
import { parentOf } from "./fsModel.ts"
import type { HistoryOp } from "./operations.ts"

/** The path an operation can bring into existence, if any. */
const createdPath = (op: Operation): string | undefined =>
  op.f === "create" || op.f === "mkdir" || op.f === "write" ? op.path : op.f === "rename" ? op.to : undefined

/** The path an operation can take out of existence, if any (a rename over a path replaces, it does not remove). */
const removedPath = (op: Operation): string | undefined =>
  op.f === "unlink" || op.f === "rmdir" ? op.path : op.f === "rename" && op.path !== op.to ? op.path : undefined

/** The pattern seeds an operation can put into a file. */
const writtenSeeds = (op: Operation): ReadonlyArray<number> =>
  op.f === "write" && op.content !== null ? [op.content.seed] : op.f === "pwrite" ? [op.seed] : []

const mayHaveHappened = (op: HistoryOp): boolean => op.completion.type !== "fail"

/** Paths whose existence the operation's outcome observes: its own path, and the parent it acted in. */
const observedPaths = (op: HistoryOp): ReadonlyArray<string> => {
  const c = op.completion
  if (c.type === "fail") return c.error === "AlreadyExists" || c.error === "NotEmpty" ? [op.op.path] : []
  if (c.type !== "ok") return []
  const parents = [parentOf(op.op.path), ...(op.op.f === "rename" ? [parentOf(op.op.to)] : [])].filter((p) => p !== "/")
  const own = op.op.f === "create" || op.op.f === "mkdir" || op.op.f === "write" ? [] : [op.op.path]
  return [...own, ...parents]
}

/** Paths whose absence the operation's outcome observes. */
const absentPaths = (op: HistoryOp): ReadonlyArray<string> =>
  op.completion.type === "fail" && op.completion.error === "NotFound" ? [op.op.path] : []

const observedSeed = (op: HistoryOp): number | undefined =>
  op.completion.type === "ok" && op.completion.result._tag === "Content" && op.completion.result.content !== null
    ? op.completion.result.content.seed
    : undefined

/**
 * A cause must be another operation that may have taken effect before the observation
 * completed: invoked before it returned. (A rename cannot explain its own source, nor can two
 * renames explain each other's.)
 */
const canCause = (cause: HistoryOp, observer: HistoryOp): boolean =>
  cause !== observer && mayHaveHappened(cause) && cause.call < observer.ret

export const explainedBy = (full: ReadonlyArray<HistoryOp>) => {
  const creatable = new Set(full.filter(mayHaveHappened).flatMap((op) => createdPath(op.op) ?? []))
  const removable = new Set(full.filter(mayHaveHappened).flatMap((op) => removedPath(op.op) ?? []))
  const writable = new Set(full.filter(mayHaveHappened).flatMap((op) => writtenSeeds(op.op)))
  return (candidate: ReadonlyArray<HistoryOp>): boolean => {
    const creates = (observer: HistoryOp, path: string) =>
      candidate.some((op) => canCause(op, observer) && createdPath(op.op) === path)
    const removes = (observer: HistoryOp, path: string) =>
      candidate.some((op) => canCause(op, observer) && removedPath(op.op) === path)
    return candidate.every((op) => {
      const seed = observedSeed(op)
      if (seed !== undefined && writable.has(seed) && !candidate.some((w) => canCause(w, op) && writtenSeeds(w.op).includes(seed))) {
        return false
      }
      // An absence is explained by the empty start, unless the candidate keeps a creation the full history also undid.
      const absent = absentPaths(op).every((path) => !removable.has(path) || !creates(op, path) || removes(op, path))
      return absent && observedPaths(op).every((path) => !creatable.has(path) || creates(op, path))
    })
  }
}
