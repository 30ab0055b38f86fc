/** Whole-cluster simulation seeds 176–200 (see test/support/simSeeds.ts). */
import { describe } from "@effect/vitest"
import { simulationSeeds } from "../support/simSeeds.ts"

describe("whole-cluster simulation, seeds 176–200", () => simulationSeeds(176, 200))
