/**
 * Each planted bug (src/sim/plantedBugs.ts) breaks one rule; the simulation must catch it:
 * some seed among the first BUG_SEEDS (default 6) fails a check.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { PLANTED_BUGS } from "../../src/sim/plantedBugs.ts"
import { passed } from "../../src/sim/report.ts"
import { runSimulation } from "../../src/sim/run.ts"

const BUG_SEEDS = Number(process.env.BUG_SEEDS ?? 6)
const DURATION = Number(process.env.SIM_MILLIS ?? 5000)

describe("planted bugs are caught", () => {
  for (const bug of PLANTED_BUGS) {
    it.effect(bug, () =>
      Effect.gen(function*() {
        let caughtBy: number | undefined
        for (let seed = 1; seed <= BUG_SEEDS && caughtBy === undefined; seed++) {
          const result = yield* runSimulation({ seed, durationMillis: DURATION, plantedBug: bug })
          if (!passed(result)) caughtBy = seed
        }
        expect(caughtBy, `no seed in 1..${BUG_SEEDS} caught ${bug}`).toBeDefined()
      }), 1_800_000)
  }
})
