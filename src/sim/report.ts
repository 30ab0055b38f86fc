/** The text report of a simulation run, as `sandstore sim` prints it. */
import type { Event, History } from "./history.ts"
import type { SimulationResult } from "./run.ts"

const describeEvent = (event: Event, ops: ReadonlyMap<number, Event>): string => {
  const invoke = ops.get(event.id)
  const op = invoke?.type === "invoke" ? JSON.stringify(invoke.op) : "?"
  switch (event.type) {
    case "invoke":
      return `${event.time} ms  c${event.client} #${event.id} invoke ${op}`
    case "ok": {
      const result = event.result._tag === "Bytes" ? `Bytes(${event.result.bytes.length})` : JSON.stringify(event.result)
      return `${event.time} ms  c${event.client} #${event.id} ok ${result}`
    }
    case "fail":
    case "info":
      return `${event.time} ms  c${event.client} #${event.id} ${event.type} ${event.error}`
  }
}

export const describeHistory = (history: History): ReadonlyArray<string> => {
  const ops = new Map<number, Event>()
  for (const event of history) if (event.type === "invoke") ops.set(event.id, event)
  return history.map((event) => describeEvent(event, ops))
}

export const passed = (result: SimulationResult) => result.verdicts.every((v) => v.verdict.valid)

export const reportLines = (result: SimulationResult): ReadonlyArray<string> => {
  const lines = [
    `seed                ${result.seed}`,
    `simulated duration  ${(result.simulatedMillis / 1000).toFixed(3)} s`,
    `operations          ${result.operations}`,
    `faults injected     ${result.faults.filter((f) => f.action !== "heal" && !f.action.startsWith("restart")).length}`,
    `trace hash          ${result.traceHash}`
  ]
  for (const { name, verdict } of result.verdicts) {
    lines.push(verdict.valid ? `valid     ${name} (${verdict.checked} checked)` : `VIOLATION ${name}: ${verdict.reason}`)
  }
  for (const { name, verdict } of result.verdicts) {
    if (verdict.valid || verdict.subHistory.length === 0) continue
    lines.push(`-- offending sub-history (${name}) --`, ...describeHistory(verdict.subHistory))
  }
  return lines
}
