/**
 * The summary a chaos run prints: the faults injected with their times, operations by kind and
 * outcome, the write audit (the headline: lost acknowledged writes), the checkers' verdicts and
 * the verdict.
 */
import { Duration } from "effect"
import { toOperations } from "../sim/check/operations.ts"
import type { History } from "../sim/history.ts"
import { type ChaosReport, faultLine } from "./runChaos.ts"

/** Shown per list (lost writes, unexplained operations) before "... and N more". */
const LIST_LIMIT = 10

/** `ok 120, fail 4 (NotFound 4), info 2 (Timeout 2)` per operation kind, and the totals. */
export const outcomeLines = (history: History): Array<string> => {
  const rows = new Map<string, { ok: number; fail: Map<string, number>; info: Map<string, number> }>()
  const row = (f: string) => {
    const existing = rows.get(f)
    if (existing !== undefined) return existing
    const fresh = { ok: 0, fail: new Map<string, number>(), info: new Map<string, number>() }
    rows.set(f, fresh)
    return fresh
  }
  const bump = (counts: Map<string, number>, key: string) => counts.set(key, (counts.get(key) ?? 0) + 1)
  const infoErrors = new Map(history.flatMap((e) => (e.type === "info" ? [[e.id, e.error] as const] : [])))
  const ops = toOperations(history)
  for (const op of ops) {
    const r = row(op.op.f)
    if (op.completion.type === "ok") r.ok++
    else if (op.completion.type === "fail") bump(r.fail, op.completion.error)
    else bump(r.info, infoErrors.get(op.id) ?? "no outcome")
  }
  const sum = (counts: Map<string, number>) => [...counts.values()].reduce((a, b) => a + b, 0)
  const detail = (counts: Map<string, number>) =>
    counts.size === 0 ? "" : ` (${[...counts.entries()].sort((a, b) => b[1] - a[1]).map(([k, n]) => `${k} ${n}`).join(", ")})`
  const lines = [...rows.entries()].sort(([a], [b]) => (a < b ? -1 : 1)).map(([f, r]) =>
    `  ${f.padEnd(7)} ok ${r.ok}, fail ${sum(r.fail)}${detail(r.fail)}, info ${sum(r.info)}${detail(r.info)}`
  )
  const total = (pick: (r: { ok: number; fail: Map<string, number>; info: Map<string, number> }) => number) =>
    [...rows.values()].reduce((n, r) => n + pick(r), 0)
  return [
    `operations: ${ops.length} (ok ${total((r) => r.ok)}, fail ${total((r) => sum(r.fail))}, info ${total((r) => sum(r.info))})`,
    ...lines
  ]
}

/** `longest time without an acknowledged operation: 4.2s from +21.0s` */
export const availabilityLine = (history: History): string => {
  let previous = 0
  let gap = { from: 0, millis: 0 }
  for (const event of history) {
    if (event.type !== "ok") continue
    if (event.time - previous > gap.millis) gap = { from: previous, millis: event.time - previous }
    previous = event.time
  }
  return `longest time without an acknowledged operation: ${(gap.millis / 1000).toFixed(1)}s from +${(gap.from / 1000).toFixed(1)}s`
}

const limited = (items: ReadonlyArray<string>): Array<string> => [
  ...items.slice(0, LIST_LIMIT).map((item) => `    ${item}`),
  ...(items.length > LIST_LIMIT ? [`    ... and ${items.length - LIST_LIMIT} more`] : [])
]

export const reportLines = (report: ChaosReport): Array<string> => {
  const { settings, writes } = report
  const lines: Array<string> = [
    `chaos: ${settings.nodes} nodes, ${settings.clients} clients, ${Duration.format(settings.duration)}, seed ${settings.seed}`
  ]
  lines.push(`faults injected: ${report.faults.length}`)
  for (const kind of ["kill", "kill-leader", "pause", "quorum-loss"] as const) {
    const n = report.faults.filter((fault) => fault.kind === kind).length
    if (n > 0) lines.push(`  ${kind}: ${n}`)
  }
  lines.push(...report.faults.map((fault) => `  ${faultLine(fault)}`))
  lines.push(...outcomeLines(report.history))
  lines.push(availabilityLine(report.history))
  lines.push(
    report.recovery._tag === "Recovered"
      ? `recovery: leader ${report.recovery.leaderId} ${report.recovery.millis} ms after healing; ${report.readBack.length} files read back`
      : `recovery: FAILED: ${report.recovery.reason}`
  )
  lines.push(
    `lost acknowledged writes: ${writes.lost.length} (of ${writes.acknowledged} acknowledged: ${writes.verified} read back ` +
      `byte for byte, ${writes.superseded} superseded by operations that may follow them)`
  )
  lines.push(...limited(writes.lost.map((lost) => `${lost.write}: ${lost.why}`)))
  const { appends } = report
  lines.push(`replies lost on purpose (the SDK resends what it needs an answer to): ${report.repliesLost}`)
  lines.push(
    `appends applied twice: ${appends.duplicated.length} (of ${appends.appends} appends to the shared log, ` +
      `${appends.acknowledged} acknowledged; ${appends.lost.length} acknowledged appends missing)`
  )
  lines.push(...limited([...appends.duplicated, ...appends.lost, ...appends.problems]))
  lines.push(`writes acknowledged without a quorum: ${report.withoutQuorum.length}`)
  lines.push(...limited(report.withoutQuorum))
  lines.push(`nodes that died by themselves: ${report.crashes.length}`)
  for (const crash of report.crashes) {
    lines.push(`  ${crash.nodeId} at +${(crash.at / 1000).toFixed(1)}s: ${crash.exit}; last output:`)
    lines.push(...crash.lastOutput.map((line) => `    ${line}`))
  }
  lines.push(`client defects (SDK bugs; their operations count as indeterminate): ${report.clientDefects.length}`)
  lines.push(...limited(report.clientDefects))
  for (const check of report.checks) {
    const v = check.verdict
    lines.push(
      v.valid
        ? `${check.name}: valid, ${v.checked} operations checked${v.inconclusive === undefined ? "" : `; ${v.inconclusive}`}`
        : `${check.name}: INVALID: ${v.reason}`
    )
  }
  lines.push(`verdict: ${report.ok ? "ok" : "FAILED"}`)
  return lines
}
