/** Planted bugs, half 2 of 2 (the halves run side by side): see test/support/plantedBugChecks.ts. */
import { describe } from "@effect/vitest"
import { PLANTED_BUGS } from "../../src/sim/plantedBugs.ts"
import { plantedBugChecks } from "../support/plantedBugChecks.ts"

describe("planted bugs are caught", () => plantedBugChecks(PLANTED_BUGS.slice(4)))
