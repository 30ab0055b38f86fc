/**
 * The whole-cluster simulation is deterministic: one seed run twice gives the same trace hash.
 * (The seeds themselves: clusterSeeds*.test.ts; the planted bugs: clusterPlantedBugs*.test.ts.)
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { runSimulation } from "../../src/sim/run.ts"

describe("whole-cluster simulation", () => {
  it.effect("the same seed replays the same run: same trace hash, history and faults", () =>
    Effect.gen(function*() {
      const first = yield* runSimulation({ seed: 7, durationMillis: 3000 })
      const second = yield* runSimulation({ seed: 7, durationMillis: 3000 })
      expect(first.operations).toBeGreaterThan(0)
      expect(second.traceHash).toBe(first.traceHash)
      expect(second.faults).toEqual(first.faults)
      expect(second.history.length).toBe(first.history.length)
      const other = yield* runSimulation({ seed: 8, durationMillis: 3000 })
      expect(other.traceHash).not.toBe(first.traceHash)
    }), 300_000)
})
