/**
 * Durability: what the cluster holds after recovery keeps every acknowledged change.
 *
 * 1. The last word on a path: an acknowledged write, pwrite or truncate that no other
 *    operation which may have taken effect (ok or open, touching the path or an ancestor) can
 *    follow, must be read back with its bytes exactly (a write: its whole content; a pwrite:
 *    its range; a truncate: its size). An acknowledged create or mkdir that no removal or
 *    rename can follow must still exist.
 * 2. The read-back as a whole must be consistent with some linearization of the history: the
 *    final reads and listings are appended as operations after every other completion (open
 *    operations may still land on either side of them) and checked with the linearizability
 *    model. If the history alone is not linearizable this fails too; the linearizability
 *    verdict names the cause.
 */
import { contentBytes, patternByte } from "../content.ts"
import type { Event, History, Operation } from "../history.ts"
import type { FileReadBack, FinalState } from "../finalState.ts"
import { describeHistoryOp } from "./describe.ts"
import { isWithin } from "./fsModel.ts"
import { checkOperations, type LinearizabilityOptions } from "./linearizability.ts"
import { type HistoryOp, pathsOf, toHistory, toOperations } from "./operations.ts"
import { resolvesFirst } from "./steps.ts"
import { type CheckVerdict, failed, passed } from "./verdict.ts"
import { sameBytes } from "../../lib/sameBytes.ts"

const MUTATIONS = new Set<Operation["f"]>(["write", "pwrite", "truncate", "create", "unlink", "mkdir", "rmdir", "rename"])
const REMOVALS = new Set<Operation["f"]>(["unlink", "rmdir", "rename"])

const covers = (op: Operation, path: string): boolean =>
  pathsOf(op).some((p) => p === path || isWithin(path, p))

/**
 * Can `other` act on the file at `path`? By naming it, or (a pwrite or truncate, which resolve
 * their path before they act, steps.ts) by holding a file that a rename moved there meanwhile.
 */
const reaches = (other: HistoryOp, path: string, ops: ReadonlyArray<HistoryOp>): boolean =>
  covers(other.op, path) ||
  (resolvesFirst(other.op) && ops.some((r) =>
    r.op.f === "rename" && r.completion.type !== "fail" && r.ret > other.call && r.call < other.ret &&
    (path === r.op.to || isWithin(path, r.op.to))
  ))

/** Can `other` take effect after `op` on `path`? */
const canFollow = (
  other: HistoryOp,
  op: HistoryOp,
  path: string,
  kinds: ReadonlySet<Operation["f"]>,
  ops: ReadonlyArray<HistoryOp>
): boolean =>
  other !== op && other.completion.type !== "fail" && kinds.has(other.op.f) && other.ret > op.call &&
  reaches(other, path, ops)

/** Why the read-back of `op`'s path does not hold its acknowledged effect, or undefined when it does. */
const lostEffect = (op: HistoryOp, readBack: FileReadBack | undefined, directories: ReadonlySet<string>): string | undefined => {
  const o = op.op
  if (o.f === "mkdir") return directories.has(o.path) ? undefined : "the directory is gone"
  if (readBack === undefined) return "the file is gone"
  if (readBack._tag === "Failed") return `the file cannot be read back (${readBack.error})`
  const bytes = readBack.bytes
  switch (o.f) {
    case "write":
      return sameBytes(bytes, contentBytes(o.content)) ? undefined : `read back ${bytes.length} other bytes`
    case "truncate":
      return bytes.length === o.size ? undefined : `read back ${bytes.length} bytes, not ${o.size}`
    case "pwrite": {
      if (bytes.length < o.offset + o.length) return `read back ${bytes.length} bytes, short of the range's end ${o.offset + o.length}`
      for (let i = 0; i < o.length; i++) {
        if (bytes[o.offset + i] !== patternByte(o.seed, i)) return `byte ${o.offset + i} differs from the pwrite's`
      }
      return undefined
    }
    default:
      return undefined
  }
}

/** The final read-back as operations completing after everything in the history. */
const finalOperations = (history: History, ops: ReadonlyArray<HistoryOp>, finalState: FinalState): Array<HistoryOp> => {
  const files = new Map(finalState.files.map((f) => [f.path, f]))
  const listings = new Map(finalState.directories.map((d) => [d.path, d]))
  const paths = new Set<string>([...ops.flatMap((op) => pathsOf(op.op)), ...files.keys(), ...listings.keys()])
  const call = history.length
  const time = history.reduce((latest, e) => Math.max(latest, e.time), 0) + 1
  let id = history.reduce((largest, e) => Math.max(largest, e.id), 0) + 1
  const out: Array<HistoryOp> = []
  const add = (op: Operation, completion: Extract<Event, { type: "ok" | "fail" }>) => {
    const invoke: Event = { type: "invoke", id: completion.id, client: -1, time, op }
    out.push({
      id: completion.id,
      client: -1,
      op,
      call,
      ret: call + 1,
      completion: completion.type === "ok"
        ? { type: "ok", result: completion.result }
        : { type: "fail", error: completion.error },
      events: [[call, invoke], [call + 1, completion]]
    })
  }
  for (const path of [...paths].sort()) {
    const file = files.get(path)
    const listing = listings.get(path)
    const next = id++
    if (file?._tag === "Read") {
      add({ f: "read", path }, { type: "ok", id: next, client: -1, time, result: { _tag: "Bytes", bytes: file.bytes } })
    } else if (listing !== undefined) {
      add({ f: "readdir", path }, { type: "ok", id: next, client: -1, time, result: { _tag: "Names", names: listing.names } })
    } else if (file === undefined && path !== "/") {
      add({ f: "read", path }, { type: "fail", id: next, client: -1, time, error: "NotFound" })
    }
  }
  return out
}

export const checkDurability = (
  history: History,
  finalState: FinalState,
  options: LinearizabilityOptions = {}
): CheckVerdict => {
  const ops = toOperations(history)
  const files = new Map(finalState.files.map((f) => [f.path, f]))
  const directories = new Set(["/", ...finalState.directories.map((d) => d.path)])
  const losses: Array<{ op: HistoryOp; why: string }> = []
  let checked = 0
  for (const op of ops) {
    if (op.completion.type !== "ok") continue
    const f = op.op.f
    const kinds = f === "create" || f === "mkdir" ? REMOVALS : f === "write" || f === "pwrite" || f === "truncate" ? MUTATIONS : undefined
    if (kinds === undefined) continue
    if (ops.some((other) => canFollow(other, op, op.op.path, kinds, ops))) continue
    checked++
    const why = lostEffect(op, files.get(op.op.path), directories)
    if (why !== undefined) losses.push({ op, why })
  }
  if (losses.length > 0) {
    const first = losses[0]!
    const related = ops.filter((o) => covers(o.op, first.op.op.path))
    return failed(
      `${losses.length} acknowledged operation(s) lost after recovery: ` +
        losses.slice(0, 10).map(({ op, why }) => `${describeHistoryOp(op)}: ${why}`).join("; "),
      toHistory(related)
    )
  }
  const finals = finalOperations(history, ops, finalState)
  const consistent = checkOperations([...ops, ...finals], options)
  if (!consistent.valid) {
    return failed(`the read-back after recovery fits no linearization of the history: ${consistent.reason}`, consistent.subHistory)
  }
  return passed(checked + finals.length, consistent.inconclusive)
}
