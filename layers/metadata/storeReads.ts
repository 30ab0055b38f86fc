/**
 * The synchronous reads one apply batch makes of the store. Point reads are synchronous on
 * every store. Range scans are synchronous on the in-memory tree but a promise on LevelDB:
 * there a transition that needs a scan it has not read yet throws `ScanNeeded`; the apply
 * reads the range, keeps it, and runs the transition again from its start. A transition only
 * stages writes until it returns, so running it again is the same as running it once. The
 * store is not written while the batch runs, so what was read stays true for the batch.
 */
import { Effect } from "effect"
import type { IoError } from "../../src/domain/errors.ts"
import type { KeyRange } from "./keys.ts"
import type { Store } from "./store.ts"
import type { Source } from "./transaction.ts"

/** Thrown by a scan of a range the batch has not read yet. */
export class ScanNeeded {
  constructor(readonly range: KeyRange) {}
}

export interface StoreReads {
  readonly source: Source
  /** Read `range` from the store for the rest of the batch. */
  readonly fetch: (range: KeyRange) => Effect.Effect<void, IoError>
}

const rangeId = (range: KeyRange): string => `${range.gte.toString("hex")}:${range.lt.toString("hex")}`

export const storeReads = (store: Store): StoreReads => {
  const scanned = new Map<string, Array<[Buffer, Buffer]>>()
  const scanNow = store.scanNow
  return {
    source: {
      get: (key) => store.peek(key),
      scan: scanNow !== undefined
        ? (range) => scanNow(range)
        : (range) => {
          const rows = scanned.get(rangeId(range))
          if (rows === undefined) throw new ScanNeeded(range)
          return rows
        }
    },
    fetch: (range) => Effect.map(store.scan(range), (rows) => void scanned.set(rangeId(range), rows))
  }
}
