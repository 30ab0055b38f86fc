/** bench:compare's CPU meter: utime + stime from /proc/<pid>/stat. */
import { NodeContext } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { parseCpuTicks, processCpuSeconds } from "../../bench/compare/processCpu.ts"

describe("parseCpuTicks", () => {
  it("adds utime and stime, counting fields after the command name", () => {
    const line = "4242 (node) S 1 4242 4242 0 -1 4194304 1000 0 0 0 731 269 0 0 20 0 11 0 100 1000000 5000"
    expect(parseCpuTicks(line)).toBe(731 + 269)
  })

  it("is not fooled by spaces and parentheses in the command name", () => {
    const line = "77 (my (odd) name) R 1 77 77 0 -1 0 0 0 0 0 12 3 0 0 20 0 1 0 5 100 1"
    expect(parseCpuTicks(line)).toBe(15)
  })

  it("refuses text that is not a stat line", () => {
    expect(parseCpuTicks("garbage")).toBeUndefined()
    expect(parseCpuTicks("1 (x) S")).toBeUndefined()
  })
})

describe("processCpuSeconds", () => {
  it.effect("this process has used some CPU, and no less a moment later", () =>
    Effect.gen(function*() {
      const first = yield* processCpuSeconds([process.pid])
      let spin = 0
      for (let i = 0; i < 1e6; i++) spin += i
      expect(spin).toBeGreaterThan(0)
      const second = yield* processCpuSeconds([process.pid])
      expect(first).toBeGreaterThan(0)
      expect(second).toBeGreaterThanOrEqual(first)
    }).pipe(Effect.provide(NodeContext.layer)))

  it.effect("fails for a process that does not exist", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(processCpuSeconds([2 ** 22 + 1]))
      expect(error.message).toContain(String(2 ** 22 + 1))
    }).pipe(Effect.provide(NodeContext.layer)))
})
