/**
 * The trace hash of a run: crc32c over a canonical encoding of every history event, in order,
 * and every fault the nemesis injected. Two runs of one seed must give the same hash.
 */
import { crc32c } from "../lib/crc32c.ts"
import type { History } from "./history.ts"
import type { FaultRecord } from "./nemesis.ts"

const hex = (bytes: Uint8Array) => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString("hex")

/** JSON with byte arrays as hex: object fields keep the order they were built in, which is fixed. */
export const canonicalTrace = (history: History, faults: ReadonlyArray<FaultRecord>): string =>
  JSON.stringify({ history, faults }, (_key, value: unknown) => (value instanceof Uint8Array ? { hex: hex(value) } : value))

export const traceHash = (history: History, faults: ReadonlyArray<FaultRecord>): string =>
  crc32c(new TextEncoder().encode(canonicalTrace(history, faults))).toString(16).padStart(8, "0")
