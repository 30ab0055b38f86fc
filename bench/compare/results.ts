/** What the comparison measured, as plain data for the report. */

/** One row of small operations on one system: a fixed window of back-to-back operations. */
export interface SmallOps {
  readonly totalOps: number
  readonly opsPerSec: number
  /** nearest-rank latencies in milliseconds; undefined when no operation succeeded */
  readonly p50: number | undefined
  readonly p99: number | undefined
  readonly errors: number
  readonly firstError: string | undefined
  /** CPU milliseconds of the 3 server processes (summed) per successful operation; undefined when none succeeded */
  readonly cpuMillisPerOp: number | undefined
  /** CPU milliseconds of the bench's own process (all its clients) per successful operation */
  readonly clientCpuMillisPerOp: number | undefined
}

export interface SmallOpsRow {
  readonly clients: number
  readonly etcd: SmallOps
  readonly sandstore: SmallOps
}

/** CPU milliseconds per operation from the servers' CPU seconds over a window of `ops` operations. */
export const cpuMillisPerOp = (cpuSeconds: number | undefined, ops: number): number | undefined =>
  cpuSeconds === undefined || ops <= 0 ? undefined : (cpuSeconds * 1000) / ops

/** Bytes moved in one sequential pass and how long it took. */
export interface Throughput {
  readonly bytes: number
  readonly seconds: number
}

export interface LargeFile {
  readonly fileSize: number
  /** bytes per write and read call (Sandstore's chunk size) */
  readonly pieceBytes: number
  readonly sandstoreWrite: Throughput
  readonly sandstoreRead: Throughput
  /** write of every piece, then one fsync */
  readonly diskWrite: Throughput
  readonly diskRead: Throughput
  /** the same pieces over one loopback TCP connection, with no codec or disk */
  readonly loopbackWrite: Throughput
  readonly loopbackRead: Throughput
}

/** Small durable writes at random places in one existing file: what a small write costs. */
export interface SmallWrites {
  readonly fileSize: number
  readonly blockBytes: number
  readonly ops: SmallOps
  /** bytes the 3 nodes wrote to storage per successful operation, summed; undefined when none succeeded */
  readonly writtenBytesPerOp: number | undefined
}

export interface Machine {
  readonly cores: number
  readonly cpuModel: string
  readonly nodeVersion: string
  readonly platform: string
  /** Which CRC-32C the chunk and WAL checksums used: the native binary or the TypeScript table. */
  readonly checksums: "native" | "table"
  /** The malloc variables the processes ran with (src/lib/allocatorEnv.ts) and the nodes' V8 heap arguments (src/lib/nodeHeapArgs.ts); absent in runs before they existed. */
  readonly allocator?: string
}

export interface CompareReport {
  /** when the run ended, milliseconds since the epoch */
  readonly finishedAt: number
  readonly machine: Machine
  readonly etcdVersion: string
  readonly durationSeconds: number
  readonly warmupSeconds: number
  /** the untimed run of each operation at the highest concurrency before a system's first row */
  readonly primeSeconds: number
  /** bytes per etcd value */
  readonly valueBytes: number
  /** etcd put under a new key vs Sandstore create of a new file */
  readonly writes: ReadonlyArray<SmallOpsRow>
  /** etcd linearizable get of an existing key vs Sandstore stat of an existing file */
  readonly reads: ReadonlyArray<SmallOpsRow>
  /** undefined when the run skipped the large file */
  readonly large: LargeFile | undefined
  /** undefined when the run skipped it (with the large file) */
  readonly overwrite: SmallWrites | undefined
}

const MiB = 1024 * 1024

export const mibPerSec = (throughput: Throughput): number =>
  throughput.seconds > 0 ? throughput.bytes / MiB / throughput.seconds : 0
