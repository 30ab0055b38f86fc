/** Whole-cluster simulation seeds 51–75 (see test/support/simSeeds.ts). */
import { describe } from "@effect/vitest"
import { simulationSeeds } from "../support/simSeeds.ts"

describe("whole-cluster simulation, seeds 51–75", () => simulationSeeds(51, 75))
