import { defineConfig } from "vitest/config"

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: "forks",
    // Vitest's default on 2 cores is one worker; the simulation seeds are CPU-bound and split
    // over several files, so two run side by side.
    maxWorkers: 2
  }
})
