/** Whole-cluster simulation seeds 276–300 (see test/support/simSeeds.ts). */
import { describe } from "@effect/vitest"
import { simulationSeeds } from "../support/simSeeds.ts"

describe("whole-cluster simulation, seeds 276–300", () => simulationSeeds(276, 300))
