/** Whole-cluster simulation seeds 26–50 (see test/support/simSeeds.ts). */
import { describe } from "@effect/vitest"
import { simulationSeeds } from "../support/simSeeds.ts"

describe("whole-cluster simulation, seeds 26–50", () => simulationSeeds(26, 50))
