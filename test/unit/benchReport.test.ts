/** Bench output: CSV rows and header, the summary table, the CSV file name and the progress line. */
import { describe, expect, it } from "@effect/vitest"
import type { PhaseResult } from "../../src/bench/phaseResult.ts"
import { renderProgress } from "../../src/bench/progressLine.ts"
import { CSV_HEADER, csvField, csvRow, fileTimestamp, summaryTable } from "../../src/bench/report.ts"

const write: PhaseResult = {
  operation: "write",
  concurrency: 16,
  blockSizeBytes: 4096,
  latency: { p50: 1.5, p95: 2.25, p99: 10.0004, p100: 31.9996 },
  totalOps: 12345,
  errorCount: 2,
  firstError: "EAGAIN: no leader",
  elapsedSeconds: 10,
  opsPerSec: 1234.5,
  mibPerSec: 4.822265625
}

const stat: PhaseResult = {
  operation: "stat",
  concurrency: 1,
  blockSizeBytes: undefined,
  latency: { p50: 0.2, p95: 0.4, p99: 0.5, p100: 0.9 },
  totalOps: 5000,
  errorCount: 0,
  firstError: undefined,
  elapsedSeconds: 1,
  opsPerSec: 5000,
  mibPerSec: undefined
}

describe("bench CSV", () => {
  it("has the original bench's columns, then throughput", () => {
    expect(CSV_HEADER).toBe(
      "operation,concurrency,block_size_bytes,p50_ms,p95_ms,p99_ms,p100_ms,total_ops,error_count,ops_per_sec,mib_per_sec"
    )
  })

  it("writes milliseconds to the microsecond, rates rounded, and throughput for byte-moving phases", () => {
    expect(csvRow(write)).toBe("write,16,4096,1.500,2.250,10.000,32.000,12345,2,1234.5,4.82")
  })

  it("leaves cells empty where they do not apply", () => {
    expect(csvRow(stat)).toBe("stat,1,,0.200,0.400,0.500,0.900,5000,0,5000.0,")
    expect(csvRow({ ...stat, latency: undefined, totalOps: 0, errorCount: 7, opsPerSec: 0 })).toBe("stat,1,,,,,,0,7,0.0,")
  })

  it("every row has as many cells as the header", () => {
    for (const result of [write, stat, { ...stat, latency: undefined }]) {
      expect(csvRow(result).split(",").length).toBe(CSV_HEADER.split(",").length)
    }
  })

  it("quotes fields only when they need it", () => {
    expect(csvField("write")).toBe("write")
    expect(csvField("a,b")).toBe("\"a,b\"")
    expect(csvField("say \"hi\"")).toBe("\"say \"\"hi\"\"\"")
  })
})

describe("bench summary", () => {
  it("aligns columns and shows empty cells as -", () => {
    const lines = summaryTable([write, stat])
    expect(lines).toHaveLength(3)
    expect(lines[0]).toMatch(/^operation\s+conc\s+block\s+p50 ms\s+p95 ms\s+p99 ms\s+p100 ms\s+ops\s+errors\s+ops\/s\s+MiB\/s$/)
    expect(lines[1]!.split(/\s+/)).toEqual(["write", "16", "4096", "1.500", "2.250", "10.000", "32.000", "12345", "2", "1234.5", "4.82"])
    expect(lines[2]!.split(/\s+/)).toEqual(["stat", "1", "-", "0.200", "0.400", "0.500", "0.900", "5000", "0", "5000.0", "-"])
    // right-aligned numbers end in the same column as their header
    expect(lines[1]!.indexOf("12345") + 5).toBe(lines[0]!.indexOf("ops ") + 3)
    expect(lines[2]!.length).toBe(lines[0]!.length)
  })

  it("names CSV files by an ISO time without characters file systems reject", () => {
    expect(fileTimestamp(Date.UTC(2025, 0, 31, 9, 5, 7, 42))).toBe("2025-01-31T09-05-07-042Z")
  })

  it("renders a progress line with the rate so far", () => {
    expect(renderProgress({ phase: "read", concurrency: 4, stage: "timed", ops: 1000, errors: 1, elapsedSeconds: 2.5 }))
      .toBe("read c=4 timed 2.5s: 1000 ops, 400.0 ops/s, 1 errors")
    expect(renderProgress({ phase: "write", concurrency: 1, stage: "warm-up", ops: 0, errors: 0, elapsedSeconds: 0 }))
      .toBe("write c=1 warm-up 0.0s: 0 ops, 0.0 ops/s, 0 errors")
  })
})
