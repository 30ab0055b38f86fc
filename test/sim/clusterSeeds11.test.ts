/** Whole-cluster simulation seeds 251–275 (see test/support/simSeeds.ts). */
import { describe } from "@effect/vitest"
import { simulationSeeds } from "../support/simSeeds.ts"

describe("whole-cluster simulation, seeds 251–275", () => simulationSeeds(251, 275))
