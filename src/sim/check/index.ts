/**
 * The checkers of a whole-cluster simulation run. `checkAll` runs each on the run's history
 * and final state and names its verdict; a run passes when every verdict is valid. A valid
 * verdict with `inconclusive` set (see verdict.ts) means part of the check could not finish
 * within its bounds.
 */
import type { FinalState } from "../finalState.ts"
import type { History } from "../history.ts"
import { checkDurability } from "./durability.ts"
import { checkLinearizability, type LinearizabilityOptions } from "./linearizability.ts"
import { checkNamespaceInvariants, type NamespaceOptions } from "./namespaceInvariants.ts"
import { checkOrphanedChunks } from "./orphanedChunks.ts"
import type { NamedVerdict } from "./verdict.ts"

export type CheckOptions = LinearizabilityOptions & NamespaceOptions

export const checkAll = (
  input: { readonly history: History; readonly finalState: FinalState },
  options: CheckOptions = {}
): ReadonlyArray<NamedVerdict> => [
  { name: "linearizability", verdict: checkLinearizability(input.history, options) },
  { name: "durability", verdict: checkDurability(input.history, input.finalState, options) },
  { name: "namespace invariants", verdict: checkNamespaceInvariants(input.finalState, options) },
  { name: "orphaned chunks", verdict: checkOrphanedChunks(input.finalState) }
]

export { checkDurability } from "./durability.ts"
export { checkLinearizability, checkOperations, type LinearizabilityOptions } from "./linearizability.ts"
export { checkNamespaceInvariants, type NamespaceOptions } from "./namespaceInvariants.ts"
export { checkOrphanedChunks } from "./orphanedChunks.ts"
export { type CheckVerdict, type NamedVerdict } from "./verdict.ts"
