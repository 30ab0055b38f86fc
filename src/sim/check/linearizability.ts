/**
 * Linearizability of the filesystem operations of a history against the model in fsModel.ts
 * (whole-file register with modelled bytes per path, namespace existence and types, renames of
 * files and subtrees, directory listings). A read, pwrite or truncate resolves its path before it
 * acts on the inode, as the SDK does (steps.ts).
 *
 * The history is split into independent partitions (partition.ts) and each is searched
 * (search.ts) within a step budget. A violation is shrunk by delta debugging to a 1-minimal
 * failing sub-history that keeps the causes of what it observes (provenance.ts), which the
 * verdict returns. A `fail` with an error that says nothing
 * about the namespace (Conflict, Unavailable, NotLeader, ...) did not happen and constrains
 * nothing, so it is left out. A partition over `maxOpsPerPartition`, or one whose search
 * spends its budget, makes the verdict inconclusive (valid, with a note), never invalid.
 */
import type { History } from "../history.ts"
import { describeHistoryOp } from "./describe.ts"
import { emptyState, errorKind } from "./fsModel.ts"
import { type HistoryOp, toHistory, toOperations } from "./operations.ts"
import { partitionByPaths } from "./partition.ts"
import { explainedBy } from "./provenance.ts"
import { searchLinearization } from "./search.ts"
import { shrinkFailure } from "./shrink.ts"
import { type CheckVerdict, failed, passed } from "./verdict.ts"

export interface LinearizabilityOptions {
  /** Model applications allowed per partition search. */
  readonly stepBudget?: number
  /** Model applications allowed over all partitions. */
  readonly totalStepBudget?: number
  readonly maxOpsPerPartition?: number
  /** Searches allowed while shrinking a violation. */
  readonly shrinkChecks?: number
}

/**
 * A step is one model application (a few microseconds). Almost every run's history needs under
 * 100,000; one with many operations left open on a few paths (each open one doubles the states
 * carried) can need tens of millions, so the budgets bound a check to seconds, inconclusive past it.
 */
export const defaultLinearizabilityOptions: Required<LinearizabilityOptions> = {
  stepBudget: 2_000_000,
  totalStepBudget: 4_000_000,
  maxOpsPerPartition: 4_000,
  shrinkChecks: 2_000
}

/** Operations the model can judge: everything except fails that are not namespace answers. */
export const checkableOperations = (ops: ReadonlyArray<HistoryOp>): Array<HistoryOp> =>
  ops.filter((op) => op.completion.type !== "fail" || errorKind(op.completion.error) !== undefined)

/** Checks already-paired operations (durability appends its final reads this way). */
export const checkOperations = (ops: ReadonlyArray<HistoryOp>, options: LinearizabilityOptions = {}): CheckVerdict => {
  const o = { ...defaultLinearizabilityOptions, ...options }
  const checkable = checkableOperations(ops)
  const { partitions, skippedReaddirs } = partitionByPaths(checkable, o.maxOpsPerPartition)
  const notes: Array<string> = []
  if (skippedReaddirs > 0) notes.push(`${skippedReaddirs} readdir(s) left out: they would fuse partitions past ${o.maxOpsPerPartition} operations`)
  let checked = 0
  let spent = 0
  let unchecked = 0
  for (const partition of partitions) {
    if (partition.length > o.maxOpsPerPartition) {
      unchecked += partition.length
      notes.push(`a partition of ${partition.length} operations (on ${partition[0]!.op.path}) exceeds ${o.maxOpsPerPartition}`)
      continue
    }
    const budget = Math.min(o.stepBudget, o.totalStepBudget - spent)
    const result = searchLinearization(partition, emptyState, budget)
    spent += result.steps
    switch (result._tag) {
      case "Linearizable":
        checked += partition.length
        break
      case "BudgetExceeded":
        unchecked += partition.length
        notes.push(`the search of a partition of ${partition.length} operations (on ${partition[0]!.op.path}) spent its ${budget} steps`)
        break
      case "Violation": {
        const explained = explainedBy(partition)
        const minimal = shrinkFailure(
          partition,
          (candidate) =>
            explained(candidate) && searchLinearization(candidate, emptyState, o.stepBudget)._tag === "Violation",
          o.shrinkChecks
        )
        return failed(
          `not linearizable: no order of these ${minimal.length} operation(s) (shrunk from ${partition.length}) ` +
            `explains their results: ${minimal.map(describeHistoryOp).join("; ")}`,
          toHistory(minimal)
        )
      }
    }
  }
  return unchecked > 0
    ? passed(checked, `inconclusive for ${unchecked} operation(s): ${notes.join("; ")}`)
    : passed(checked, notes.length > 0 ? notes.join("; ") : undefined)
}

export const checkLinearizability = (history: History, options: LinearizabilityOptions = {}): CheckVerdict =>
  checkOperations(toOperations(history), options)
