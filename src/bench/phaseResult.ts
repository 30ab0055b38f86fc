/** The bench's phases and what one run of a phase at one concurrency level measured. */

export const PHASE_NAMES = ["write", "read", "stat", "create", "listdir", "overwrite"] as const

export type PhaseName = typeof PHASE_NAMES[number]

/** Phases that move file bytes, so a block size and a throughput apply to them. */
export const movesBytes = (phase: PhaseName): boolean => phase === "write" || phase === "read" || phase === "overwrite"

/** Nearest-rank latencies of the successful operations, in milliseconds. */
export interface LatencySummary {
  readonly p50: number
  readonly p95: number
  readonly p99: number
  readonly p100: number
}

export interface PhaseResult {
  readonly operation: PhaseName
  readonly concurrency: number
  /** undefined for phases that move no file bytes */
  readonly blockSizeBytes: number | undefined
  /** undefined when no operation succeeded */
  readonly latency: LatencySummary | undefined
  /** successful operations in the timed window (each one is a latency sample) */
  readonly totalOps: number
  /** failed operations, including reads whose bytes did not match what was written */
  readonly errorCount: number
  /** the first failure, for the report */
  readonly firstError: string | undefined
  readonly elapsedSeconds: number
  readonly opsPerSec: number
  /** undefined for phases that move no file bytes */
  readonly mibPerSec: number | undefined
  /** CPU seconds the servers used during the timed window, when the caller can measure it (`serverCpuSeconds`) */
  readonly serverCpuSeconds?: number
  /** CPU seconds the bench's own process (its clients) used during the timed window, when measured (`clientCpuSeconds`) */
  readonly clientCpuSeconds?: number
  /** Bytes the servers wrote to storage during the timed window, when measured (`serverWrittenBytes`) */
  readonly serverWrittenBytes?: number
}
