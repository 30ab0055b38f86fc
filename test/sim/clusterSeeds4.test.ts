/** Whole-cluster simulation seeds 151–200 (see test/support/simSeeds.ts). */
import { describe } from "@effect/vitest"
import { simulationSeeds } from "../support/simSeeds.ts"

describe("whole-cluster simulation, seeds 151–200", () => simulationSeeds(151, 200))
