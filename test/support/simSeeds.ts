/**
 * Seeds of the whole-cluster simulation (src/sim/run.ts) as test cases, one per seed: a 3-node
 * cluster under the nemesis with 4 clients, every checker green. The seeds are split over
 * several test files so vitest's workers run them side by side. `npx sandstore sim --seed N
 * --duration 10s` replays a failing seed with its full report.
 */
import { expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { passed, reportLines } from "../../src/sim/report.ts"
import { runSimulation } from "../../src/sim/run.ts"

/** Simulated workload time of each run: room for several faults, each outlasting an election. */
export const SEED_MILLIS = 10_000

export const simulationSeeds = (first: number, last: number) => {
  for (let seed = first; seed <= last; seed++) {
    it.effect(`seed ${seed}: every checker finds the run valid`, () =>
      Effect.gen(function*() {
        const result = yield* runSimulation({ seed, durationMillis: SEED_MILLIS })
        expect(result.operations).toBeGreaterThan(0)
        expect(passed(result), reportLines(result).join("\n")).toBe(true)
      }), 120_000)
  }
}
