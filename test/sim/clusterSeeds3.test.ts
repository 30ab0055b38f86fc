/** Whole-cluster simulation seeds 101–150 (see test/support/simSeeds.ts). */
import { describe } from "@effect/vitest"
import { simulationSeeds } from "../support/simSeeds.ts"

describe("whole-cluster simulation, seeds 101–150", () => simulationSeeds(101, 150))
