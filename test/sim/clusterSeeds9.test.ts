/** Whole-cluster simulation seeds 201–225 (see test/support/simSeeds.ts). */
import { describe } from "@effect/vitest"
import { simulationSeeds } from "../support/simSeeds.ts"

describe("whole-cluster simulation, seeds 201–225", () => simulationSeeds(201, 225))
