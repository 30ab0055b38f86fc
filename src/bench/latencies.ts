/**
 * Latency samples and their nearest-rank percentiles. Every sample of a timed window is kept
 * (a growable Float64Array, no cap), so the percentiles are exact whatever the op count.
 */
import type { LatencySummary } from "./phaseResult.ts"

/** An append-only list of latencies in milliseconds that grows as needed. */
export class LatencySamples {
  private values = new Float64Array(1024)
  private size = 0

  get count(): number { return this.size }

  add(millis: number): void {
    if (this.size === this.values.length) {
      const grown = new Float64Array(this.values.length * 2)
      grown.set(this.values)
      this.values = grown
    }
    this.values[this.size++] = millis
  }

  /** The samples in ascending order (a copy). */
  sorted(): Float64Array {
    return this.values.slice(0, this.size).sort()
  }
}

/**
 * The nearest-rank `p`th percentile (0 < p <= 100) of ascending `sorted`: the smallest sample with
 * at least p% of the samples at or below it. Undefined when there are no samples.
 */
export const nearestRank = (sorted: ArrayLike<number>, p: number): number | undefined => {
  if (sorted.length === 0) return undefined
  // p * n is an exact integer for the integer p used here; the division rounds correctly.
  const rank = Math.max(1, Math.ceil((p * sorted.length) / 100))
  return sorted[Math.min(rank, sorted.length) - 1]
}

export const summarize = (samples: LatencySamples): LatencySummary | undefined => {
  const sorted = samples.sorted()
  if (sorted.length === 0) return undefined
  return {
    p50: nearestRank(sorted, 50)!,
    p95: nearestRank(sorted, 95)!,
    p99: nearestRank(sorted, 99)!,
    p100: sorted[sorted.length - 1]!
  }
}
