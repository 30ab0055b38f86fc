/**
 * The headline of a chaos run: did every acknowledged write survive? Each acknowledged pwrite
 * is held against the bytes read back after recovery, except where another operation may
 * legitimately have replaced them.
 *
 * An operation may follow a write W when it did not definitely fail and it completed after W
 * was invoked (concurrent or later; an indeterminate one may land at any time). The bytes of
 * W's range that no following pwrite covers must read back as W's, byte for byte, unless an
 * unlink or create (a re-creation) may follow W on its path: then nothing of W is owed, and W
 * is "superseded" like a write whose whole range later writes cover. What the final bytes must
 * be in those cases is the linearizability checker's question, not this audit's.
 */
import { patternByte } from "../sim/content.ts"
import type { FileReadBack } from "../sim/finalState.ts"
import type { History } from "../sim/history.ts"
import { describeHistoryOp } from "../sim/check/describe.ts"
import { type HistoryOp, toOperations } from "../sim/check/operations.ts"

export interface LostWrite {
  /** e.g. `#12 (client 2) pwrite /chaos-1 seed 7 at 100 length 20 => ok` */
  readonly write: string
  readonly why: string
}

export interface WriteAudit {
  readonly acknowledged: number
  /** Acknowledged writes with bytes nothing could overwrite, every one of those bytes checked. */
  readonly verified: number
  /** Acknowledged writes that operations which may follow them could have replaced entirely. */
  readonly superseded: number
  readonly lost: ReadonlyArray<LostWrite>
}

type Range = readonly [start: number, end: number]

/** `range` without the parts any of `cover` overlaps. */
const subtract = (range: Range, cover: ReadonlyArray<Range>): Array<Range> => {
  let left: Array<Range> = [range]
  for (const [cs, ce] of cover) {
    left = left.flatMap(([s, e]): Array<Range> =>
      ce <= s || cs >= e ? [[s, e]] : [...(cs > s ? [[s, cs] as Range] : []), ...(ce < e ? [[ce, e] as Range] : [])]
    )
    if (left.length === 0) break
  }
  return left
}

const mayFollow = (other: HistoryOp, write: HistoryOp): boolean =>
  other !== write && other.completion.type !== "fail" && other.ret > write.call

/** Why `write`'s owed bytes do not read back, or undefined when they do. */
const missing = (
  write: Extract<HistoryOp["op"], { f: "pwrite" }>,
  owed: ReadonlyArray<Range>,
  readBack: FileReadBack | undefined
): string | undefined => {
  if (readBack === undefined) return "the file is gone"
  if (readBack._tag === "Failed") return `the file cannot be read back (${readBack.error})`
  const bytes = readBack.bytes
  for (const [start, end] of owed) {
    if (bytes.length < end) return `the file is ${bytes.length} bytes, short of byte ${end - 1}`
    for (let at = start; at < end; at++) {
      if (bytes[at] !== patternByte(write.seed, at - write.offset)) return `byte ${at} differs`
    }
  }
  return undefined
}

export const auditWrites = (history: History, files: ReadonlyArray<FileReadBack>): WriteAudit => {
  const readBacks = new Map(files.map((file) => [file.path, file]))
  const byPath = new Map<string, Array<HistoryOp>>()
  for (const op of toOperations(history)) {
    const list = byPath.get(op.op.path) ?? []
    list.push(op)
    byPath.set(op.op.path, list)
  }
  let acknowledged = 0
  let verified = 0
  let superseded = 0
  const lost: Array<LostWrite> = []
  for (const [path, ops] of byPath) {
    for (const op of ops) {
      const write = op.op
      if (write.f !== "pwrite" || op.completion.type !== "ok") continue
      acknowledged++
      const followers = ops.filter((other) => mayFollow(other, op))
      if (followers.some((other) => other.op.f === "unlink" || other.op.f === "create")) {
        superseded++
        continue
      }
      const cover = followers.flatMap((other): Array<Range> =>
        other.op.f === "pwrite" ? [[other.op.offset, other.op.offset + other.op.length]] : []
      )
      const owed = subtract([write.offset, write.offset + write.length], cover)
      if (owed.length === 0) {
        superseded++
        continue
      }
      const why = missing(write, owed, readBacks.get(path))
      if (why === undefined) verified++
      else lost.push({ write: describeHistoryOp(op), why })
    }
  }
  return { acknowledged, verified, superseded, lost }
}
