/**
 * The checkers of a whole-cluster simulation run. `checkAll` runs each on the run's history
 * and final state and names its verdict; a run passes when every verdict is valid. A valid
 * verdict with `inconclusive` set (see verdict.ts) means part of the check could not finish
 * within its bounds.
 */
import type { FinalState } from "../finalState.ts"
import type { History } from "../history.ts"
import { checkDurability } from "./durability.ts"
import { checkExactlyOnce } from "./exactlyOnce.ts"
import { checkLinearizability, type LinearizabilityOptions } from "./linearizability.ts"
import { checkNamespaceInvariants, type NamespaceOptions } from "./namespaceInvariants.ts"
import { checkOrphanedChunks } from "./orphanedChunks.ts"
import type { NamedVerdict } from "./verdict.ts"

export type CheckOptions = LinearizabilityOptions & NamespaceOptions

/** The history without the appends to the append-only log, which the namespace model does not cover. */
export const withoutAppends = (history: History): History => {
  const appends = new Set(history.flatMap((e) => (e.type === "invoke" && e.op.f === "append" ? [e.id] : [])))
  return appends.size === 0 ? history : history.filter((e) => !appends.has(e.id))
}

export const checkAll = (
  input: { readonly history: History; readonly finalState: FinalState },
  options: CheckOptions = {}
): ReadonlyArray<NamedVerdict> => {
  const history = withoutAppends(input.history)
  return [
    { name: "linearizability", verdict: checkLinearizability(history, options) },
    { name: "durability", verdict: checkDurability(history, input.finalState, options) },
    { name: "namespace invariants", verdict: checkNamespaceInvariants(input.finalState, options) },
    { name: "orphaned chunks", verdict: checkOrphanedChunks(input.finalState) },
    { name: "exactly once", verdict: checkExactlyOnce(input.history, input.finalState) }
  ]
}

export { checkDurability } from "./durability.ts"
export { type AppendAudit, auditAppends, checkExactlyOnce } from "./exactlyOnce.ts"
export { checkLinearizability, checkOperations, type LinearizabilityOptions } from "./linearizability.ts"
export { checkNamespaceInvariants, type NamespaceOptions } from "./namespaceInvariants.ts"
export { checkOrphanedChunks } from "./orphanedChunks.ts"
export { type CheckVerdict, type NamedVerdict } from "./verdict.ts"
