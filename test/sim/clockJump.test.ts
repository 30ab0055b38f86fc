/**
 * One node's wall clock jumping cannot stop the cluster: the replicated clock (on which
 * transaction and session expiry are measured) follows elapsed time, not any node's wall
 * clock. Here the leader's clock jumps an hour ahead while clients write, then is stepped back;
 * writes from every node must go on succeeding (the liveness checks write data), and every
 * checker must hold. Were the state's clock the largest wall clock any leader stamped, every
 * write planned after the step back would look an hour old and conflict until real time
 * caught up.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import type { PlannedFault } from "../../src/sim/nemesis.ts"
import { passed, reportLines } from "../../src/sim/report.ts"
import { runSimulation } from "../../src/sim/run.ts"

const jump = (minutes: number, pick: number): PlannedFault => ({
  kind: "clock-jump",
  restMillis: 400,
  holdMillis: 1500,
  pick,
  crash: {},
  jumpMinutes: minutes
})

describe("a node's clock jumping", () => {
  for (const minutes of [60, -60]) {
    it.effect(`the leader's wall clock ${minutes > 0 ? "ahead" : "behind"} by an hour, then stepped back: writes go on`, () =>
      Effect.gen(function*() {
        const result = yield* runSimulation({
          seed: 5,
          durationMillis: 5000,
          // pick 1: the leader (see the nemesis); then a crash of the leader, so another node leads.
          plan: [jump(minutes, 1), { kind: "crash-leader", restMillis: 300, holdMillis: 300, pick: 1, crash: {} }, jump(minutes, 2)]
        })
        expect(result.faults.some((f) => f.action.includes("jumps"))).toBe(true)
        expect(passed(result), reportLines(result).join("\n")).toBe(true)
      }), 120_000)
  }
})
