/** What the comparison measured, as plain data for the report. */

/** One row of small writes on one system: a fixed window of back-to-back operations. */
export interface SmallWrites {
  readonly totalOps: number
  readonly opsPerSec: number
  /** nearest-rank latencies in milliseconds; undefined when no operation succeeded */
  readonly p50: number | undefined
  readonly p99: number | undefined
  readonly errors: number
  readonly firstError: string | undefined
}

export interface SmallWritesRow {
  readonly clients: number
  readonly etcd: SmallWrites
  readonly sandstore: SmallWrites
}

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
}

export interface Machine {
  readonly cores: number
  readonly cpuModel: string
  readonly nodeVersion: string
  readonly platform: string
}

export interface CompareReport {
  /** when the run ended, milliseconds since the epoch */
  readonly finishedAt: number
  readonly machine: Machine
  readonly etcdVersion: string
  readonly durationSeconds: number
  readonly warmupSeconds: number
  /** bytes per etcd value */
  readonly valueBytes: number
  readonly small: ReadonlyArray<SmallWritesRow>
  readonly large: LargeFile
}

const MiB = 1024 * 1024

export const mibPerSec = (throughput: Throughput): number =>
  throughput.seconds > 0 ? throughput.bytes / MiB / throughput.seconds : 0
