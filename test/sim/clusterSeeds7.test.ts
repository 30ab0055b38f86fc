/** Whole-cluster simulation seeds 151–175 (see test/support/simSeeds.ts). */
import { describe } from "@effect/vitest"
import { simulationSeeds } from "../support/simSeeds.ts"

describe("whole-cluster simulation, seeds 151–175", () => simulationSeeds(151, 175))
