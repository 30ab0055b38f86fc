/** bench:compare's markdown: ratios, number formats, padded tables and the whole report. */
import { describe, expect, it } from "@effect/vitest"
import type { CompareReport, SmallOps } from "../../bench/compare/results.ts"
import {
  formatBytes, formatCount, formatDate, formatMillis, formatRatio, markdownTable, NONE, renderReport
} from "../../bench/compare/table.ts"

const ops = (
  opsPerSec: number,
  p50: number | undefined,
  p99: number | undefined,
  errors = 0,
  cpuMillisPerOp: number | undefined = undefined,
  clientCpuMillisPerOp: number | undefined = undefined
): SmallOps => ({
  totalOps: Math.round(opsPerSec * 10),
  opsPerSec,
  p50,
  p99,
  errors,
  firstError: errors > 0 ? "EAGAIN: no leader" : undefined,
  cpuMillisPerOp,
  clientCpuMillisPerOp
})

const MiB = 1024 * 1024

const report: CompareReport = {
  finishedAt: Date.UTC(2025, 0, 31, 9, 5, 7),
  machine: { cores: 2, cpuModel: "AMD EPYC", nodeVersion: "v20.20.2", platform: "linux 6.1", checksums: "native" },
  etcdVersion: "3.4.23",
  durationSeconds: 10,
  warmupSeconds: 2,
  primeSeconds: 5,
  valueBytes: 256,
  writes: [
    { clients: 1, etcd: ops(800, 1.2345, 5.5, 0, 0.5, 0.25), sandstore: ops(400, 2.5, 12.25, 0, 2, 0.75) },
    { clients: 64, etcd: ops(12000, 5, 40, 0, 0.25), sandstore: ops(0, undefined, undefined, 3) }
  ],
  reads: [
    { clients: 1, etcd: ops(2000, 0.5, 1, 0, 0.125), sandstore: ops(1000, 1, 2, 0, 0.0625) },
    { clients: 64, etcd: ops(20000, 3, 9, 1, 0.1), sandstore: ops(30000, 2, 6, 0, 0.2) }
  ],
  large: {
    fileSize: 256 * MiB,
    pieceBytes: 8 * MiB,
    sandstoreWrite: { bytes: 256 * MiB, seconds: 4 },
    sandstoreRead: { bytes: 256 * MiB, seconds: 1 },
    diskWrite: { bytes: 256 * MiB, seconds: 0.5 },
    diskRead: { bytes: 256 * MiB, seconds: 0 },
    loopbackWrite: { bytes: 256 * MiB, seconds: 0.25 },
    loopbackRead: { bytes: 256 * MiB, seconds: 0.125 }
  },
  overwrite: {
    fileSize: 64 * MiB,
    blockBytes: 4096,
    ops: ops(20, 40, 90.5, 2, 30),
    writtenBytesPerOp: 24 * MiB + 8192
  }
}

describe("number formats", () => {
  it("ratios are numerator over denominator, with a mark where there is none", () => {
    expect(formatRatio(1, 4)).toBe("0.25×")
    expect(formatRatio(3, 2)).toBe("1.50×")
    expect(formatRatio(250, 10)).toBe("25.0×")
    expect(formatRatio(5, 0)).toBe(NONE)
    expect(formatRatio(Number.NaN, 1)).toBe(NONE)
    expect(formatRatio(1, Number.POSITIVE_INFINITY)).toBe(NONE)
  })

  it("counts are rounded and grouped by thousands", () => {
    expect(formatCount(0)).toBe("0")
    expect(formatCount(999.6)).toBe("1,000")
    expect(formatCount(1234567)).toBe("1,234,567")
  })

  it("milliseconds keep about three significant digits", () => {
    expect(formatMillis(1.23456)).toBe("1.23")
    expect(formatMillis(12.345)).toBe("12.3")
    expect(formatMillis(123.45)).toBe("123")
    expect(formatMillis(undefined)).toBe(NONE)
  })

  it("sizes use the largest binary unit that fits", () => {
    expect(formatBytes(256 * MiB)).toBe("256 MiB")
    expect(formatBytes(1.5 * MiB)).toBe("1.5 MiB")
    expect(formatBytes(2 * 1024 ** 3)).toBe("2 GiB")
    expect(formatBytes(512)).toBe("512 B")
  })

  it("dates are UTC to the minute", () => {
    expect(formatDate(Date.UTC(2025, 0, 31, 9, 5, 59))).toBe("2025-01-31 09:05 UTC")
  })
})

describe("markdownTable", () => {
  it("pads every cell to its column and marks right-aligned columns in the rule", () => {
    expect(markdownTable(["name", "n"], [["a", "1000"], ["bb", "2"]], ["left", "right"])).toEqual([
      "| name |    n |",
      "| ---- | ---: |",
      "| a    | 1000 |",
      "| bb   |    2 |"
    ])
  })

  it("every line of a table has the same length", () => {
    const lines = markdownTable(["x", "yyyyyy"], [["long cell", "1"], ["", ""]], ["right", "left"])
    expect(new Set(lines.map((line) => line.length)).size).toBe(1)
  })
})

describe("renderReport", () => {
  const lines = renderReport(report)
  const text = lines.join("\n")

  it("names when, where and against which etcd it ran", () => {
    expect(lines[0]).toBe("Run 2025-01-31 09:05 UTC on 2 cores (AMD EPYC), linux 6.1, Node v20.20.2, native CRC-32C; etcd 3.4.23.")
    expect(text).toContain("10 s per row after 2 s of warm-up")
    expect(text).toContain("256-byte value")
  })

  const cells = (line: string) => line.split("|").map((cell) => cell.trim())

  it("has one small-write row per client count with ops/s and CPU per op, and Sandstore / etcd of both", () => {
    const rows = lines.filter((line) => /^\|\s+\d+ \|/.test(line))
    expect(rows).toHaveLength(4)
    expect(cells(rows[0]!)).toEqual(["", "1", "800", "1.23", "5.50", "0.50", "400", "2.50", "12.3", "2.00", "0.50×", "4.00×", ""])
    expect(cells(rows[1]!)).toEqual(["", "64", "12,000", "5.00", "40.0", "0.25", "0", NONE, NONE, NONE, "0.00×", NONE, ""])
  })

  it("has a linearizable-read table of etcd get vs Sandstore stat after the writes", () => {
    const header = lines.findIndex((line) => line.includes("etcd get ops/s"))
    const writesHeader = lines.findIndex((line) => line.includes("etcd put ops/s"))
    expect(header).toBeGreaterThan(writesHeader)
    expect(lines[header]).toContain("Sandstore stat ops/s")
    expect(cells(lines[header + 2]!)).toEqual(["", "1", "2,000", "0.50", "1.00", "0.13", "1,000", "1.00", "2.00", "0.06", "0.50×", "0.50×", ""])
    expect(cells(lines[header + 3]!)).toEqual(["", "64", "20,000", "3.00", "9.00", "0.10", "30,000", "2.00", "6.00", "0.20", "1.50×", "2.00×", ""])
  })

  it("leaves the large-file table out of a run without one", () => {
    const text = renderReport({ ...report, large: undefined }).join("\n")
    expect(text).not.toContain("One large file")
    expect(text).not.toContain("page cache")
    expect(text).toContain("Linearizable reads")
  })

  it("has write and read rows with Sandstore / disk and Sandstore / loopback MiB/s", () => {
    const row = (name: string) => lines.find((line) => line.startsWith(`| ${name} `))!.split("|").map((cell) => cell.trim())
    expect(row("write")).toEqual(["", "write", "64.0", "512", "1024", "0.13×", "0.06×", ""])
    expect(row("read")).toEqual(["", "read", "256", "0.0", "2048", NONE, "0.13×", ""])
  })

  it("has a random-overwrite row with what each write cost the disks, and says how that is measured", () => {
    const row = lines.find((line) => line.startsWith("| 4 KiB "))!.split("|").map((cell) => cell.trim())
    expect(row).toEqual(["", "4 KiB", "20", "40.0", "90.5", "30.0", "24.01 MiB", "6,146×", ""])
    expect(text).toContain("at a random 4 KiB-aligned offset of one 64 MiB file")
    expect(text).toContain("write_bytes")
    expect(text).toContain("- Random overwrite: 2 failed operations")
    const without = renderReport({ ...report, overwrite: undefined }).join("\n")
    expect(without).not.toContain("random overwrite")
    expect(without).not.toContain("write_bytes")
  })

  it("says what the clients' own process spent per operation on each system", () => {
    expect(text).toContain("The bench's own process (every client) used 0.25 / – CPU ms per etcd put and 0.75 / – per Sandstore create, at 1 / 64 clients.")
  })

  it("lists rows with failed operations, and only those", () => {
    const notes = lines.filter((line) => line.includes("failed operation"))
    expect(notes).toEqual([
      "- Random overwrite: 2 failed operations (first: EAGAIN: no leader).",
      "- Sandstore create with 64 client(s): 3 failed operation(s), first: EAGAIN: no leader",
      "- etcd get with 64 client(s): 1 failed operation(s), first: EAGAIN: no leader"
    ])
  })

  it("says the reads come from the page cache", () => {
    expect(text).toContain("page cache")
  })
})
