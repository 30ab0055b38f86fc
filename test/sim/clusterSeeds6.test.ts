/** Whole-cluster simulation seeds 251–300 (see test/support/simSeeds.ts). */
import { describe } from "@effect/vitest"
import { simulationSeeds } from "../support/simSeeds.ts"

describe("whole-cluster simulation, seeds 251–300", () => simulationSeeds(251, 300))
