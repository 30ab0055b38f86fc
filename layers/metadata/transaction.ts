/**
 * The pending writes of one command, read-your-writes over what it reads. A command stages its
 * changes here; the state machine keeps them on success and drops them on a namespace error,
 * so a failed command changes nothing. Transactions nest: the entries of one apply batch
 * stage into a transaction over the store's reads, each command into one over that.
 */
import type { KeyRange } from "./keys.ts"
import type { Write } from "./store.ts"

/** Synchronous reads: point reads and bounded range scans. Both throw IoError. */
export interface Source {
  readonly get: (key: Buffer) => Buffer | undefined
  /** Entries in [gte, lt) in key order. */
  readonly scan: (range: KeyRange) => Array<[Buffer, Buffer]>
}

export interface Transaction extends Source {
  readonly put: (key: Buffer, value: Buffer) => void
  readonly del: (key: Buffer) => void
  /** The staged writes, one per key, the latest kept. */
  readonly writes: () => Iterable<Write>
}

// A latin1 string maps each byte to one UTF-16 unit, so string order is byte order.
const asString = (key: Buffer): string => key.toString("latin1")

export const makeTransaction = (source: Source): Transaction => {
  const staged = new Map<string, Write>()
  return {
    get: (key) => {
      const write = staged.get(asString(key))
      return write === undefined ? source.get(key) : write[1] ?? undefined
    },
    scan: (range) => {
      const stored = source.scan(range)
      if (staged.size === 0) return stored
      const low = asString(range.gte)
      const high = asString(range.lt)
      const merged = new Map<string, Write>(stored.map(([key, value]) => [asString(key), [key, value]]))
      for (const [id, write] of staged) {
        if (id >= low && id < high) merged.set(id, write)
      }
      return [...merged.entries()]
        .filter((entry): entry is [string, readonly [Buffer, Buffer]] => entry[1][1] !== null)
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
        .map(([, [key, value]]): [Buffer, Buffer] => [key, value])
    },
    put: (key, value) => {
      staged.set(asString(key), [key, value])
    },
    del: (key) => {
      staged.set(asString(key), [key, null])
    },
    writes: () => staged.values()
  }
}

/** Stage `writes` (another transaction's, in order) into `tx`. */
export const stageAll = (tx: Transaction, writes: Iterable<Write>): void => {
  for (const [key, value] of writes) {
    if (value === null) tx.del(key)
    else tx.put(key, value)
  }
}
