/**
 * Seeds of a 3-node cluster under the nemesis, every checker green. SEED=n replays one seed;
 * SEEDS=n sets how many are run (from 1); SIM_MILLIS sets each run's simulated workload time.
 * Run with `npm run test:sim-sweep` (not yet part of `npm test`: issue 5).
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { passed, reportLines } from "../../src/sim/report.ts"
import { runSimulation } from "../../src/sim/run.ts"

const DURATION = Number(process.env.SIM_MILLIS ?? 4000)
const SEEDS = process.env.SEED !== undefined
  ? [Number(process.env.SEED)]
  : Array.from({ length: Number(process.env.SEEDS ?? 10) }, (_, i) => i + 1)

describe("whole-cluster simulation sweep", () => {
  it.effect(`${SEEDS.length} seeds: every checker finds the run valid`, () =>
    Effect.gen(function*() {
      const failures: Array<string> = []
      for (const seed of SEEDS) {
        const result = yield* runSimulation({ seed, durationMillis: DURATION })
        if (!passed(result)) failures.push(reportLines(result).join("\n"))
      }
      expect(failures).toEqual([])
    }), 1_800_000)
})
