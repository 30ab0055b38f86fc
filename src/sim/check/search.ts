/**
 * The linearizability search of one partition, after Wing & Gong with Lowe's just-in-time
 * linearization and memoization (as in Porcupine): walk the history's invocations and
 * completions in order; at an invocation, try to linearize that operation now (the model
 * accepts it with its recorded outcome) and restart from the first remaining event; at a
 * completion whose operation is not yet linearized, backtrack. A (set of linearized
 * operations, model states) pair already explored is never explored again.
 *
 * An open operation (`info`, or never completed) completes at infinity and may be linearized
 * as taking effect or as nothing at all, so the search carries a set of possible model states
 * rather than one (the power-set construction). Every model application counts one step
 * against the budget; the search gives up, inconclusive, when it is spent.
 */
import type { FsState } from "./fsModel.ts"
import type { HistoryOp } from "./operations.ts"
import { modelSteps } from "./steps.ts"

export type SearchResult =
  | { readonly _tag: "Linearizable"; readonly steps: number }
  | { readonly _tag: "Violation"; readonly steps: number }
  | { readonly _tag: "BudgetExceeded"; readonly steps: number }

interface Entry {
  readonly call: boolean
  readonly op: number
  prev: Entry | null
  next: Entry | null
  match: Entry | null
}

const unlink = (entry: Entry): void => {
  entry.prev!.next = entry.next
  if (entry.next !== null) entry.next.prev = entry.prev
}

const relink = (entry: Entry): void => {
  entry.prev!.next = entry
  if (entry.next !== null) entry.next.prev = entry
}

/** Cheap per-operation hash words, so the memo hashes a bitset without reading all of it. */
const opHash = (i: number): number => {
  let h = Math.imul(i + 0x9e3779b9, 0x85ebca6b)
  h ^= h >>> 13
  h = Math.imul(h, 0xc2b2ae35)
  return (h ^ (h >>> 16)) >>> 0
}

const sameBits = (a: Uint32Array, b: Uint32Array): boolean => {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}

/** Is there a linearization of `ops` (one partition) from `initial`? */
export const searchLinearization = (
  history: ReadonlyArray<HistoryOp>,
  initial: FsState,
  stepBudget: number
): SearchResult => {
  const ops = modelSteps(history)
  const head: Entry = { call: false, op: -1, prev: null, next: null, match: null }
  const events: Array<{ position: number; order: number; entry: Entry }> = []
  ops.forEach((op, i) => {
    const call: Entry = { call: true, op: i, prev: null, next: null, match: null }
    const ret: Entry = { call: false, op: i, prev: null, next: null, match: call }
    call.match = ret
    events.push({ position: op.call, order: 0, entry: call }, { position: op.ret, order: i, entry: ret })
  })
  events.sort((a, b) => a.position - b.position || a.order - b.order)
  let last = head
  for (const { entry } of events) {
    entry.prev = last
    last.next = entry
    last = entry
  }

  const bits = new Uint32Array(Math.ceil(ops.length / 32))
  let hash = 0
  const seen = new Map<string, Array<Uint32Array>>()
  // Each distinct model state gets a small number, so a set of states is remembered by its
  // numbers rather than by its states' (long) keys.
  const ids = new Map<string, number>()
  const idOf = (state: FsState): number => {
    let id = ids.get(state.key)
    if (id === undefined) {
      id = ids.size
      ids.set(state.key, id)
    }
    return id
  }
  const stack: Array<{ entry: Entry; states: ReadonlyArray<FsState> }> = []
  let states: ReadonlyArray<FsState> = [initial]
  let steps = 0
  let entry: Entry | null = head.next

  while (head.next !== null && entry !== null) {
    if (entry.call) {
      // One step per state the model is applied to: what bounds the search's work.
      steps += states.length
      if (steps > stepBudget) return { _tag: "BudgetExceeded", steps }
      const next = ops[entry.op]!.advance(states)
      if (next.length > 0) {
        const i = entry.op
        bits[i >>> 5]! |= 1 << (i & 31)
        const nextHash = (hash ^ opHash(i)) >>> 0
        const key = `${nextHash}#${next.map(idOf).sort((a, b) => a - b).join(",")}`
        const bucket = seen.get(key)
        if (bucket === undefined || !bucket.some((b) => sameBits(b, bits))) {
          if (bucket === undefined) seen.set(key, [bits.slice()])
          else bucket.push(bits.slice())
          stack.push({ entry, states })
          states = next
          hash = nextHash
          unlink(entry)
          unlink(entry.match!)
          entry = head.next
          continue
        }
        bits[i >>> 5]! &= ~(1 << (i & 31))
      }
      entry = entry.next
    } else {
      const top = stack.pop()
      if (top === undefined) return { _tag: "Violation", steps }
      const i = top.entry.op
      bits[i >>> 5]! &= ~(1 << (i & 31))
      hash = (hash ^ opHash(i)) >>> 0
      states = top.states
      relink(top.entry.match!)
      relink(top.entry)
      entry = top.entry.next
    }
  }
  return { _tag: "Linearizable", steps }
}
