/**
 * The bench's two outputs of phase results: CSV rows (the columns of the original bench plus
 * throughput) and a summary table for the terminal. Empty cells mean "does not apply" (no
 * successful operation, or a phase that moves no file bytes).
 */
import { DateTime } from "effect"
import type { PhaseResult } from "./phaseResult.ts"

export const CSV_COLUMNS = [
  "operation", "concurrency", "block_size_bytes", "p50_ms", "p95_ms", "p99_ms", "p100_ms", "total_ops", "error_count",
  "ops_per_sec", "mib_per_sec"
] as const

export const CSV_HEADER = CSV_COLUMNS.join(",")

/** A CSV field, quoted only when it holds a comma, a quote or a line break (RFC 4180). */
export const csvField = (value: string): string => /[",\r\n]/.test(value) ? `"${value.replaceAll("\"", "\"\"")}"` : value

const fixed = (value: number | undefined, digits: number): string => value === undefined ? "" : value.toFixed(digits)

/** Milliseconds to the microsecond. */
const millis = (value: number | undefined) => fixed(value, 3)

const cells = (result: PhaseResult): ReadonlyArray<string> => [
  result.operation,
  String(result.concurrency),
  result.blockSizeBytes === undefined ? "" : String(result.blockSizeBytes),
  millis(result.latency?.p50),
  millis(result.latency?.p95),
  millis(result.latency?.p99),
  millis(result.latency?.p100),
  String(result.totalOps),
  String(result.errorCount),
  fixed(result.opsPerSec, 1),
  fixed(result.mibPerSec, 2)
]

/** One CSV line, without the line break. */
export const csvRow = (result: PhaseResult): string => cells(result).map(csvField).join(",")

/** `2025-01-31T09-05-07-042Z`: an ISO time that is a valid file name everywhere. */
export const fileTimestamp = (millisSinceEpoch: number): string =>
  DateTime.formatIso(DateTime.unsafeMake(millisSinceEpoch)).replace(/[:.]/g, "-")

const tableHeader = ["operation", "conc", "block", "p50 ms", "p95 ms", "p99 ms", "p100 ms", "ops", "errors", "ops/s", "MiB/s"]

/** The results as an aligned table: names left-aligned, numbers right-aligned, "-" for empty cells. */
export const summaryTable = (results: ReadonlyArray<PhaseResult>): ReadonlyArray<string> => {
  const rows = [tableHeader, ...results.map((result) => cells(result).map((cell) => cell === "" ? "-" : cell))]
  const widths = tableHeader.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)))
  return rows.map((row) =>
    row.map((cell, column) => column === 0 ? cell.padEnd(widths[column]!) : cell.padStart(widths[column]!)).join("  ")
      .trimEnd()
  )
}
