import { defineConfig } from "vitest/config"

// The whole-cluster simulation's seed sweep and planted-bug checks (issue 5): long-running, and
// kept out of `npm test` until every seed is green.
export default defineConfig({
  test: {
    include: ["test/sim/*.sweep.ts"],
    testTimeout: 1_800_000,
    pool: "forks"
  }
})
