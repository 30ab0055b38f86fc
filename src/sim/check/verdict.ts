/**
 * A checker's verdict. `Verdict` (src/sim/history.ts) has no third outcome, so a check that
 * could not finish (the search ran out of its step budget, or a partition was too large) says
 * `valid: true` with an `inconclusive` note naming what went unchecked: not finding a
 * violation within the budget is not evidence of one. Every `CheckVerdict` is a `Verdict`.
 */
import type { History } from "../history.ts"

export type CheckVerdict =
  | { readonly valid: true; readonly checked: number; readonly inconclusive?: string }
  | { readonly valid: false; readonly reason: string; readonly subHistory: History }

export interface NamedVerdict {
  readonly name: string
  readonly verdict: CheckVerdict
}

export const passed = (checked: number, inconclusive?: string): CheckVerdict =>
  inconclusive === undefined ? { valid: true, checked } : { valid: true, checked, inconclusive }

export const failed = (reason: string, subHistory: History = []): CheckVerdict => ({ valid: false, reason, subHistory })
