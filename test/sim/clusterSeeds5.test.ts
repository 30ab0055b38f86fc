/** Whole-cluster simulation seeds 101–125 (see test/support/simSeeds.ts). */
import { describe } from "@effect/vitest"
import { simulationSeeds } from "../support/simSeeds.ts"

describe("whole-cluster simulation, seeds 101–125", () => simulationSeeds(101, 125))
