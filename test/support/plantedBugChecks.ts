/**
 * Each planted bug (src/sim/plantedBugs.ts) breaks one rule; the simulation must catch it: some
 * seed within the budget fails a check. The seeds are tried in order and the first catch ends
 * the search, so a bug caught early costs one run. The test prints the seed that caught it and
 * the checks that failed.
 */
import { expect, it } from "@effect/vitest"
import { Console, Effect } from "effect"
import type { PlantedBug } from "../../src/sim/plantedBugs.ts"
import { passed } from "../../src/sim/report.ts"
import { runSimulation } from "../../src/sim/run.ts"
import { SEED_MILLIS } from "./simSeeds.ts"

/**
 * Seeds tried per bug. The rarest, dedupByAttempt, fails about one seed in seven (8 of seeds
 * 1-60, before and after the log compaction rework moved which ones): 24 seeds missed it about
 * one time in thirty, 32 about one in a hundred.
 */
export const SEED_BUDGET = 32

export const plantedBugChecks = (bugs: ReadonlyArray<PlantedBug>) => {
  for (const bug of bugs) {
    it.effect(`${bug} fails a check within ${SEED_BUDGET} seeds`, () =>
      Effect.gen(function*() {
        let caught: string | undefined
        for (let seed = 1; seed <= SEED_BUDGET && caught === undefined; seed++) {
          const result = yield* runSimulation({ seed, durationMillis: SEED_MILLIS, plantedBug: bug })
          if (!passed(result)) {
            caught = `seed ${seed}: ${result.verdicts.filter((v) => !v.verdict.valid).map((v) => v.name).join(", ")}`
          }
        }
        expect(caught, `no seed in 1..${SEED_BUDGET} caught ${bug}`).toBeDefined()
        yield* Console.log(`${bug} caught by ${caught}`)
      }), 600_000)
  }
}
