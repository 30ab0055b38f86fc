/**
 * A longer sweep than `npm test`'s seeds 1–300, for hunting rare interleavings:
 * `npm run test:sim-sweep` runs seeds 301–1300; FIRST=n and SEEDS=n move and size the range,
 * SIM_MILLIS sets each run's simulated workload time. Failures print their full reports.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { passed, reportLines } from "../../src/sim/report.ts"
import { runSimulation } from "../../src/sim/run.ts"
import { SEED_MILLIS } from "../support/simSeeds.ts"

const DURATION = Number(process.env.SIM_MILLIS ?? SEED_MILLIS)
const FIRST = Number(process.env.FIRST ?? 301)
const SEEDS = Array.from({ length: Number(process.env.SEEDS ?? 1000) }, (_, i) => FIRST + i)

describe("whole-cluster simulation sweep", () => {
  it.effect(`seeds ${FIRST}–${FIRST + SEEDS.length - 1}: every checker finds the run valid`, () =>
    Effect.gen(function*() {
      const failures: Array<string> = []
      for (const seed of SEEDS) {
        const result = yield* runSimulation({ seed, durationMillis: DURATION })
        if (!passed(result)) failures.push(reportLines(result).join("\n"))
      }
      expect(failures).toEqual([])
    }), 7_200_000)
})
