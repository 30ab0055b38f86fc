/**
 * Exactly-once, from the append-only log (src/sim/appendLog.ts) read back after the run: an
 * acknowledged append's record is there exactly once, a refused one's not at all, an
 * indeterminate one's at most once, and nothing else is there. An append resent after a lost
 * reply (under the same session request) and applied again shows up as a second copy.
 *
 * Also: no operation was refused as reusing a request id (RequestIdReused). A correct client
 * never reuses one, so that refusal means two clients shared a session, or one resent a
 * request it had acknowledged.
 */
import { decodeLog } from "../appendLog.ts"
import type { FinalState } from "../finalState.ts"
import type { Event, History, Operation } from "../history.ts"
import type { Verdict } from "../history.ts"

/** What the append log read back says about each append. */
export interface AppendAudit {
  readonly appends: number
  readonly acknowledged: number
  /** Appends whose record is in the log more than once: applied twice. */
  readonly duplicated: ReadonlyArray<string>
  /** Acknowledged appends whose record is not in the log: lost. */
  readonly lost: ReadonlyArray<string>
  /** Everything else wrong: refused yet present, records no append wrote, an unreadable or torn log, a reused request id. */
  readonly problems: ReadonlyArray<string>
}

export const auditAppends = (history: History, finalState: FinalState): AppendAudit => {
  const invocations = new Map<number, Extract<Operation, { f: "append" }>>()
  const completions = new Map<number, Event>()
  const reused: Array<string> = []
  const ops = new Map<number, Operation>()
  for (const event of history) {
    if (event.type === "invoke") {
      ops.set(event.id, event.op)
      if (event.op.f === "append") invocations.set(event.id, event.op)
    } else {
      completions.set(event.id, event)
      if (event.type !== "ok" && event.error === "RequestIdReused") {
        const op = ops.get(event.id)
        reused.push(`#${event.id} (client ${event.client}) ${op?.f ?? "?"} ${op?.path ?? ""}`)
      }
    }
  }
  const problems: Array<string> = []
  const duplicated: Array<string> = []
  const lost: Array<string> = []
  if (reused.length > 0) problems.push(`refused as reusing a request id: ${reused.slice(0, 5).join("; ")}`)

  const log = finalState.appendLog
  const copies = new Map<number, number>()
  let readable = true
  if (invocations.size > 0) {
    if (log === undefined || log === null || log._tag === "Failed") {
      const acknowledged = [...invocations.keys()].filter((id) => completions.get(id)?.type === "ok")
      if (acknowledged.length > 0 || log?._tag === "Failed") {
        problems.push(`the append log could not be read back (${log?._tag === "Failed" ? log.error : "missing"})`)
        readable = false
      }
    } else {
      const decoded = decodeLog(log.bytes)
      if ("problem" in decoded) {
        problems.push(`the append log: ${decoded.problem}`)
        readable = false
      } else for (const record of decoded.records) copies.set(record, (copies.get(record) ?? 0) + 1)
    }
  }
  const known = new Set<number>()
  let acknowledged = 0
  for (const [id, op] of invocations) {
    known.add(op.record)
    const n = copies.get(op.record) ?? 0
    const completion = completions.get(id)
    if (completion?.type === "ok") acknowledged++
    if (!readable) continue
    const what = `append #${id} of record ${op.record}`
    if (n > 1) duplicated.push(`${what} landed ${n} times`)
    else if (completion?.type === "ok" && n !== 1) lost.push(`${what} was acknowledged but is not in the log`)
    else if (completion?.type === "fail" && n !== 0) problems.push(`${what} was refused (${completion.error}) but is in the log`)
  }
  for (const record of copies.keys()) {
    if (!known.has(record)) problems.push(`record ${record} is in the log but no append wrote it`)
  }
  return { appends: invocations.size, acknowledged, duplicated, lost, problems }
}

export const checkExactlyOnce = (history: History, finalState: FinalState): Verdict => {
  const audit = auditAppends(history, finalState)
  const problems = [...audit.duplicated, ...audit.lost, ...audit.problems]
  return problems.length === 0
    ? { valid: true, checked: audit.appends }
    : { valid: false, reason: problems.slice(0, 10).join("; "), subHistory: [] }
}
