/**
 * The comparison as markdown: a line saying when and where it ran, the small-write table
 * (etcd put vs Sandstore create at each client count), the linearizable-read table (etcd get vs
 * Sandstore stat), the large-file table (Sandstore vs the disk it runs on) and the notes a
 * reader needs to interpret them. Columns are padded so the same text reads well in a terminal.
 */
import { DateTime } from "effect"
import { type CompareReport, type LargeFile, type Machine, mibPerSec, type SmallOps, type SmallOpsRow, type SmallWrites } from "./results.ts"

/** Shown where a number does not exist (no sample, nothing to divide by). */
export const NONE = "–"

/** `numerator / denominator` as `0.42×`; NONE when the quotient is undefined. */
export const formatRatio = (numerator: number, denominator: number): string => {
  if (!(denominator > 0) || !Number.isFinite(numerator) || !Number.isFinite(denominator)) return NONE
  const ratio = numerator / denominator
  return `${ratio >= 10 ? ratio.toFixed(1) : ratio.toFixed(2)}×`
}

/** A whole number with thin groups of three: 12345.6 → "12,346". */
export const formatCount = (value: number): string =>
  Math.round(value).toString().replace(/\B(?=(\d{3})+(?!\d))/g, ",")

/** Milliseconds with about three significant digits. */
export const formatMillis = (value: number | undefined): string =>
  value === undefined ? NONE : value < 10 ? value.toFixed(2) : value < 100 ? value.toFixed(1) : value.toFixed(0)

export const formatMibPerSec = (value: number): string => value < 100 ? value.toFixed(1) : value.toFixed(0)

/** `256 MiB`, `8 MiB`, `1.5 MiB`, `512 KiB`, `100 B`. */
export const formatBytes = (bytes: number): string => {
  const units = [["GiB", 1024 ** 3], ["MiB", 1024 ** 2], ["KiB", 1024]] as const
  for (const [unit, size] of units) {
    if (bytes >= size) return `${Number((bytes / size).toFixed(2))} ${unit}`
  }
  return `${bytes} B`
}

export type Align = "left" | "right"

/** A markdown table whose cells are padded to their column's width. */
export const markdownTable = (
  header: ReadonlyArray<string>,
  rows: ReadonlyArray<ReadonlyArray<string>>,
  align: ReadonlyArray<Align>
): ReadonlyArray<string> => {
  const all = [header, ...rows]
  const widths = header.map((_, column) => Math.max(3, ...all.map((row) => (row[column] ?? "").length)))
  const pad = (cell: string, column: number) =>
    align[column] === "right" ? cell.padStart(widths[column]!) : cell.padEnd(widths[column]!)
  const line = (row: ReadonlyArray<string>) => `| ${header.map((_, column) => pad(row[column] ?? "", column)).join(" | ")} |`
  const rule = `|${widths.map((width, column) => align[column] === "right" ? ` ${"-".repeat(width - 1)}: ` : ` ${"-".repeat(width)} `).join("|")}|`
  return [line(header), rule, ...rows.map(line)]
}

export const describeMachine = (machine: Machine): string =>
  `${machine.cores} cores (${machine.cpuModel}), ${machine.platform}, Node ${machine.nodeVersion}, ${machine.checksums} CRC-32C` +
  (machine.allocator === undefined ? "" : `, ${machine.allocator}`)

/** `2025-01-31 09:05 UTC`. */
export const formatDate = (millisSinceEpoch: number): string =>
  `${DateTime.formatIso(DateTime.unsafeMake(millisSinceEpoch)).slice(0, 16).replace("T", " ")} UTC`

const smallCells = (ops: SmallOps): ReadonlyArray<string> => [
  formatCount(ops.opsPerSec),
  formatMillis(ops.p50),
  formatMillis(ops.p99),
  formatMillis(ops.cpuMillisPerOp)
]

const seconds = (value: number): string => `${Number(value.toFixed(3))} s`

/** Every row that had failed operations, one line each. */
const errorNotes = (rows: ReadonlyArray<SmallOpsRow>, etcdName: string, sandstoreName: string): ReadonlyArray<string> =>
  rows.flatMap((row) =>
    ([[etcdName, row.etcd], [sandstoreName, row.sandstore]] as const)
      .filter(([, ops]) => ops.errors > 0)
      .map(([name, ops]) =>
        `- ${name} with ${row.clients} client(s): ${formatCount(ops.errors)} failed operation(s), first: ${ops.firstError ?? "?"}`
      )
  )

/**
 * One table of small operations: per client count, each system's ops/s, latencies and CPU per
 * operation, then Sandstore / etcd for throughput and for CPU (below 1 means Sandstore spends less).
 */
const smallTable = (rows: ReadonlyArray<SmallOpsRow>, etcdName: string, sandstoreName: string) =>
  markdownTable(
    [
      "clients", `etcd ${etcdName} ops/s`, "p50 ms", "p99 ms", "CPU ms/op",
      `Sandstore ${sandstoreName} ops/s`, "p50 ms", "p99 ms", "CPU ms/op", "ops/s S/e", "CPU/op S/e"
    ],
    rows.map((row) => [
      String(row.clients),
      ...smallCells(row.etcd),
      ...smallCells(row.sandstore),
      formatRatio(row.sandstore.opsPerSec, row.etcd.opsPerSec),
      formatRatio(row.sandstore.cpuMillisPerOp ?? Number.NaN, row.etcd.cpuMillisPerOp ?? Number.NaN)
    ]),
    Array.from({ length: 11 }, (): Align => "right")
  )

/**
 * What the bench's own process spent per operation on each system: both systems' clients share
 * the machine's cores with the servers, so a row whose clients need most of a core measures
 * them as much as the servers.
 */
const clientCpuLine = (rows: ReadonlyArray<SmallOpsRow>, etcdName: string, sandstoreName: string): string => {
  const series = (pick: (row: SmallOpsRow) => SmallOps) => rows.map((row) => formatMillis(pick(row).clientCpuMillisPerOp)).join(" / ")
  return `The bench's own process (every client) used ${series((row) => row.etcd)} CPU ms per etcd ${etcdName} and ` +
    `${series((row) => row.sandstore)} per Sandstore ${sandstoreName}, at ${rows.map((row) => row.clients).join(" / ")} clients.`
}

const largeFileLines = (large: LargeFile): ReadonlyArray<string> => {
  const throughputRow = (name: string, sandstore: number, disk: number, loopback: number) =>
    [name, formatMibPerSec(sandstore), formatMibPerSec(disk), formatMibPerSec(loopback), formatRatio(sandstore, disk), formatRatio(sandstore, loopback)]
  const throughput = markdownTable(
    ["sequential", "Sandstore MiB/s", "disk MiB/s", "loopback MiB/s", "Sandstore / disk", "Sandstore / loopback"],
    [
      throughputRow("write", mibPerSec(large.sandstoreWrite), mibPerSec(large.diskWrite), mibPerSec(large.loopbackWrite)),
      throughputRow("read", mibPerSec(large.sandstoreRead), mibPerSec(large.diskRead), mibPerSec(large.loopbackRead))
    ],
    ["left", "right", "right", "right", "right", "right"]
  )
  return [
    `**One large file**: ${formatBytes(large.fileSize)} written then read sequentially by one client in ` +
      `${formatBytes(large.pieceBytes)} pieces (Sandstore: 3 replicas, acknowledged once durable on every one; ` +
      `disk: the same pieces with node:fs in the same temp dir, then one fsync; loopback: the same pieces over ` +
      `one TCP connection on 127.0.0.1 with plain node:net, no codec and no disk).`,
    "",
    ...throughput,
    ""
  ]
}

const overwriteLines = (overwrite: SmallWrites): ReadonlyArray<string> => {
  const { ops } = overwrite
  const written = overwrite.writtenBytesPerOp
  return [
    `**Small writes in place**: ${formatBytes(overwrite.blockBytes)} written then synced at a random ` +
      `${formatBytes(overwrite.blockBytes)}-aligned offset of one ${formatBytes(overwrite.fileSize)} file, by one client ` +
      `(Sandstore: 3 replicas, acknowledged once durable on every one).`,
    "",
    ...markdownTable(
      ["random overwrite", "ops/s", "p50 ms", "p99 ms", "CPU ms/op", "written to disk per op (3 nodes)", "per byte of data"],
      [[
        formatBytes(overwrite.blockBytes),
        formatCount(ops.opsPerSec),
        formatMillis(ops.p50),
        formatMillis(ops.p99),
        formatMillis(ops.cpuMillisPerOp),
        written === undefined ? NONE : formatBytes(written),
        written === undefined ? NONE : written >= 10 * overwrite.blockBytes
          ? `${formatCount(written / overwrite.blockBytes)}×`
          : formatRatio(written, overwrite.blockBytes)
      ]],
      ["left", "right", "right", "right", "right", "right", "right"]
    ),
    "",
    ...(ops.errors > 0 ? [`- Random overwrite: ${ops.errors} failed operations (first: ${ops.firstError ?? "unknown"}).`, ""] : [])
  ]
}

/** The report as markdown lines (no top-level heading, so it fits under any section). */
export const renderReport = (report: CompareReport): ReadonlyArray<string> => {
  const primed = report.primeSeconds > 0
    ? ` (each system first runs every operation for ${seconds(report.primeSeconds)} at ${Math.max(...report.writes.map((row) => row.clients))} clients, untimed, so its hot code is compiled)`
    : ""
  const window = `${seconds(report.durationSeconds)} per row after ${seconds(report.warmupSeconds)} of warm-up${primed}, ` +
    `each client on its own connection`
  return [
    `Run ${formatDate(report.finishedAt)} on ${describeMachine(report.machine)}; etcd ${report.etcdVersion}.`,
    "",
    `**Small writes**: etcd put of a ${report.valueBytes}-byte value under a new key vs Sandstore create ` +
      `(open O_CREAT|O_EXCL + close of a new name), ${window}.`,
    "",
    ...smallTable(report.writes, "put", "create"),
    "",
    clientCpuLine(report.writes, "put", "create"),
    "",
    `**Linearizable reads**: etcd get of an existing key (its default, linearizable consistency) vs Sandstore ` +
      `stat of an existing file (a ReadIndex read), ${window}.`,
    "",
    ...smallTable(report.reads, "get", "stat"),
    "",
    clientCpuLine(report.reads, "get", "stat"),
    "",
    ...(report.large === undefined ? [] : largeFileLines(report.large)),
    ...(report.overwrite === undefined ? [] : overwriteLines(report.overwrite)),
    "- Everything runs on this one machine: 3 etcd members, then 3 Sandstore nodes (each measured " +
      "with the other stopped), and the bench's clients share its cores. Sandstore's 3 replicas all land " +
      "on the one disk, so its write puts every byte on it three times.",
    "- CPU ms/op: user + system time of the 3 server processes, summed, over the timed window, per " +
      "successful operation (the bench's own clients are not counted).",
    ...(report.overwrite === undefined ? [] : [
      "- Written to disk: `write_bytes` of the 3 server processes (/proc/<pid>/io: pages they dirtied in chunk " +
        "files, the WAL and the metadata store), summed over the timed window, per successful operation."
    ]),
    "- etcd clients are spread round-robin over the members (a follower forwards to the leader); " +
      "Sandstore clients find the leader and send to it.",
    ...(report.large === undefined ? [] : [
      "- Both reads come right after the writes, so they are served from the page cache, not the device.",
      "- Each large-file run (Sandstore, disk, loopback) first moves a 64 MiB file the same way, untimed, so its code is compiled, and starts right after 1 GiB (or 4× the file) of page cache was written and deleted, so all of them run on memory the VM has backed (bench/compare/warmMemory.ts)."
    ]),
    ...errorNotes(report.writes, "etcd put", "Sandstore create"),
    ...errorNotes(report.reads, "etcd get", "Sandstore stat")
  ]
}
