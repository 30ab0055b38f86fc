/**
 * Keeps a shrunk violation meaningful. Against an empty initial namespace, one read of content
 * that some write produced already fails on its own ("nobody wrote this"), which hides the real
 * anomaly (a stale or lost write). So a candidate sub-history must keep the cause of what it
 * observes whenever the full history had one: an observed existing path keeps an operation
 * that can create it, an observed pattern keeps a write of that pattern. A path or pattern that
 * nothing in the full history produced stays observable on its own: that is the anomaly.
 */
import type { Operation } from "../history.ts"
import type { HistoryOp } from "./operations.ts"

/** The path an operation can bring into existence, if any. */
const createdPath = (op: Operation): string | undefined =>
  op.f === "create" || op.f === "mkdir" || op.f === "write" ? op.path : op.f === "rename" ? op.to : undefined

/** The pattern seeds an operation can put into a file. */
const writtenSeeds = (op: Operation): ReadonlyArray<number> =>
  op.f === "write" && op.content !== null ? [op.content.seed] : op.f === "pwrite" ? [op.seed] : []

const mayHaveHappened = (op: HistoryOp): boolean => op.completion.type !== "fail"

/** Paths whose existence the operation's outcome observes. */
const observedPaths = (op: HistoryOp): ReadonlyArray<string> => {
  const c = op.completion
  if (c.type === "fail") return c.error === "AlreadyExists" || c.error === "NotEmpty" ? [op.op.path] : []
  if (c.type !== "ok") return []
  return op.op.f === "create" || op.op.f === "mkdir" || op.op.f === "write" ? [] : [op.op.path]
}

const observedSeed = (op: HistoryOp): number | undefined =>
  op.completion.type === "ok" && op.completion.result._tag === "Content" && op.completion.result.content !== null
    ? op.completion.result.content.seed
    : undefined

export const explainedBy = (full: ReadonlyArray<HistoryOp>) => {
  const creatable = new Set(full.filter(mayHaveHappened).flatMap((op) => createdPath(op.op) ?? []))
  const writable = new Set(full.filter(mayHaveHappened).flatMap((op) => writtenSeeds(op.op)))
  return (candidate: ReadonlyArray<HistoryOp>): boolean => {
    const live = candidate.filter(mayHaveHappened)
    const created = new Set(live.flatMap((op) => createdPath(op.op) ?? []))
    const written = new Set(live.flatMap((op) => writtenSeeds(op.op)))
    return candidate.every((op) => {
      const seed = observedSeed(op)
      if (seed !== undefined && writable.has(seed) && !written.has(seed)) return false
      return observedPaths(op).every((path) => !creatable.has(path) || created.has(path))
    })
  }
}
