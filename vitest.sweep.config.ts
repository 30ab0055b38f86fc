import { defineConfig } from "vitest/config"

// The long seed sweep of the whole-cluster simulation (test/sim/clusterSeeds.sweep.ts): beyond
// `npm test`'s seeds, run on demand with `npm run test:sim-sweep`.
export default defineConfig({
  test: {
    include: ["test/sim/*.sweep.ts"],
    testTimeout: 7_200_000,
    pool: "forks"
  }
})
