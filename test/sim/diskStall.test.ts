/**
 * A WAL whose fsyncs hang must not freeze the cluster: past the stall limit the node stops
 * taking requests as leader (NotLeader, so clients look elsewhere), its silence lets the others
 * elect a leader, and writes succeed while its disk still hangs (the nemesis checks that before
 * the disk comes back). Without the stall limit, clients stay on the stuck leader, whose
 * proposals never complete, for as long as the disk hangs.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import type { PlannedFault } from "../../src/sim/nemesis.ts"
import { passed, reportLines } from "../../src/sim/report.ts"
import { runSimulation } from "../../src/sim/run.ts"

const stall = (pick: number, holdMillis: number): PlannedFault => ({ kind: "stall-disk", restMillis: 300, holdMillis, pick, crash: {} })

describe("a hung disk", () => {
  it.effect("the leader's fsyncs hang for seconds: another node leads and writes go on meanwhile", () =>
    Effect.gen(function*() {
      const result = yield* runSimulation({ seed: 11, durationMillis: 9000, plan: [stall(1, 3000), stall(2, 4000)] })
      expect(result.faults.filter((f) => f.action.includes("hang")).length).toBe(2)
      expect(passed(result), reportLines(result).join("\n")).toBe(true)
    }), 120_000)
})
