/**
 * While a quorum-loss fault holds, no majority of nodes is running, so no write can commit: a
 * mutation invoked after the fault took hold and acknowledged before its healing began would
 * have committed without a quorum. Reads are not judged, since a leader may answer them on a
 * lease that is still valid.
 */
import type { History, Operation } from "../sim/history.ts"
import { describeHistoryOp } from "../sim/check/describe.ts"
import { toOperations } from "../sim/check/operations.ts"
import type { Fault } from "./nemesis.ts"

const MUTATIONS = new Set<Operation["f"]>(["write", "pwrite", "append", "truncate", "create", "unlink", "mkdir", "rmdir", "rename"])

/** Descriptions of the mutations acknowledged inside a quorum-loss window. */
export const writesWithoutQuorum = (history: History, faults: ReadonlyArray<Fault>): ReadonlyArray<string> => {
  const windows = faults.filter((fault) => fault.kind === "quorum-loss")
  if (windows.length === 0) return []
  return toOperations(history).flatMap((op) => {
    if (op.completion.type !== "ok" || !MUTATIONS.has(op.op.f)) return []
    const invoked = op.events[0]![1].time
    const acknowledged = op.events[1]![1].time
    const inside = windows.find((w) => invoked > w.start && acknowledged < w.end)
    return inside === undefined ? [] : [`${describeHistoryOp(op)} (invoked +${invoked} ms, acknowledged +${acknowledged} ms, quorum lost +${inside.start}..+${inside.end} ms)`]
  })
}
