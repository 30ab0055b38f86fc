/** Whole-cluster simulation seeds 126–150 (see test/support/simSeeds.ts). */
import { describe } from "@effect/vitest"
import { simulationSeeds } from "../support/simSeeds.ts"

describe("whole-cluster simulation, seeds 126–150", () => simulationSeeds(126, 150))
