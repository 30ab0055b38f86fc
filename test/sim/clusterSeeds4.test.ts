/** Whole-cluster simulation seeds 76–100 (see test/support/simSeeds.ts). */
import { describe } from "@effect/vitest"
import { simulationSeeds } from "../support/simSeeds.ts"

describe("whole-cluster simulation, seeds 76–100", () => simulationSeeds(76, 100))
