/** Whole-cluster simulation seeds 226–250 (see test/support/simSeeds.ts). */
import { describe } from "@effect/vitest"
import { simulationSeeds } from "../support/simSeeds.ts"

describe("whole-cluster simulation, seeds 226–250", () => simulationSeeds(226, 250))
