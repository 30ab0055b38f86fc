import { describe, expect, it } from "@effect/vitest"
import { allocatorEnv, describeAllocator, LARGE_BUFFER_MALLOC_ENV } from "../../src/lib/allocatorEnv.ts"

describe("allocatorEnv", () => {
  it("adds the large-buffer malloc settings to an environment without malloc variables", () => {
    expect(allocatorEnv({ PATH: "/usr/bin", HOME: "/root" })).toEqual(LARGE_BUFFER_MALLOC_ENV)
    expect(Number(LARGE_BUFFER_MALLOC_ENV.MALLOC_MMAP_THRESHOLD_)).toBe(32 * 1024 * 1024)
  })

  it("adds nothing when the user set any malloc variable of their own", () => {
    expect(allocatorEnv({ PATH: "/usr/bin", MALLOC_ARENA_MAX: "2" })).toEqual({})
  })

  it("describes what a process runs with, for a benchmark's report", () => {
    expect(describeAllocator({ PATH: "/usr/bin" })).toBe("default malloc")
    expect(describeAllocator({ MALLOC_TRIM_THRESHOLD_: "1", MALLOC_MMAP_THRESHOLD_: "2", HOME: "/" })).toBe("MALLOC_MMAP_THRESHOLD_=2 MALLOC_TRIM_THRESHOLD_=1")
  })
})
