/** Whole-cluster simulation seeds 1–25 (see test/support/simSeeds.ts). */
import { describe } from "@effect/vitest"
import { simulationSeeds } from "../support/simSeeds.ts"

describe("whole-cluster simulation, seeds 1–25", () => simulationSeeds(1, 25))
