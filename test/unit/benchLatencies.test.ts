/** Bench latency statistics: nearest-rank percentiles on known vectors and a seeded property, and uncapped samples. */
import { describe, expect, it } from "@effect/vitest"
import fc from "fast-check"
import { LatencySamples, nearestRank, summarize } from "../../src/bench/latencies.ts"

const samplesOf = (values: ReadonlyArray<number>): LatencySamples => {
  const samples = new LatencySamples()
  for (const value of values) samples.add(value)
  return samples
}

describe("nearest-rank percentiles", () => {
  it("1..100: the pth percentile is p", () => {
    const sorted = Array.from({ length: 100 }, (_, i) => i + 1)
    expect(nearestRank(sorted, 50)).toBe(50)
    expect(nearestRank(sorted, 95)).toBe(95)
    expect(nearestRank(sorted, 99)).toBe(99)
    expect(nearestRank(sorted, 100)).toBe(100)
  })

  it("the textbook vector 15, 20, 35, 40, 50", () => {
    const sorted = [15, 20, 35, 40, 50]
    expect(nearestRank(sorted, 5)).toBe(15)
    expect(nearestRank(sorted, 30)).toBe(20)
    expect(nearestRank(sorted, 40)).toBe(20)
    expect(nearestRank(sorted, 50)).toBe(35)
    expect(nearestRank(sorted, 100)).toBe(50)
  })

  it("ranks round up: 10 samples put p95 and p99 at the maximum", () => {
    const sorted = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]
    expect(nearestRank(sorted, 50)).toBe(5)
    expect(nearestRank(sorted, 95)).toBe(10)
    expect(nearestRank(sorted, 99)).toBe(10)
  })

  it("one sample is every percentile; no samples have none", () => {
    expect(summarize(samplesOf([7.25]))).toEqual({ p50: 7.25, p95: 7.25, p99: 7.25, p100: 7.25 })
    expect(nearestRank([], 50)).toBeUndefined()
    expect(summarize(new LatencySamples())).toBeUndefined()
  })

  it("ties: a repeated value covers all its ranks", () => {
    expect(summarize(samplesOf([2, 2, 2, 2, 9]))).toEqual({ p50: 2, p95: 9, p99: 9, p100: 9 })
    expect(summarize(samplesOf([3, 3, 3, 3]))).toEqual({ p50: 3, p95: 3, p99: 3, p100: 3 })
    expect(nearestRank([1, 5, 5, 5, 5, 5, 5, 5, 5, 8], 20)).toBe(5)
  })

  it("summarize sorts numerically (not as strings) and p100 is the maximum", () => {
    expect(summarize(samplesOf([100, 9, 25, 3.5, 1000, 80]))).toEqual({ p50: 25, p95: 1000, p99: 1000, p100: 1000 })
  })

  it("is the smallest sample with at least p% of the samples at or below it (seeded property)", () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 50 }), { minLength: 1, maxLength: 300 }),
        fc.integer({ min: 1, max: 100 }),
        (values, p) => {
          const sorted = [...values].sort((a, b) => a - b)
          const result = nearestRank(sorted, p)!
          const atOrBelow = (x: number) => sorted.filter((v) => v <= x).length
          expect(sorted).toContain(result)
          expect(atOrBelow(result) * 100).toBeGreaterThanOrEqual(p * sorted.length)
          for (const smaller of sorted.filter((v) => v < result)) {
            expect(atOrBelow(smaller) * 100).toBeLessThan(p * sorted.length)
          }
        }
      ),
      { seed: 20240611, numRuns: 300 }
    )
  })
})

describe("latency samples", () => {
  it("keep every sample past any initial capacity", () => {
    const samples = new LatencySamples()
    const n = 200_000
    for (let i = n; i >= 1; i--) samples.add(i / 1000)
    expect(samples.count).toBe(n)
    const sorted = samples.sorted()
    expect(sorted.length).toBe(n)
    expect(sorted[0]).toBe(0.001)
    expect(sorted[n - 1]).toBe(200)
    expect(summarize(samples)).toEqual({ p50: 100, p95: 190, p99: 198, p100: 200 })
  })
})
