/**
 * The pending writes of one command, read-your-writes over the store. A command stages its
 * changes here; the state machine writes them in the entry's batch on success and drops them
 * on a namespace error, so a failed command changes nothing.
 */
import { Effect } from "effect"
import type { IoError } from "../../src/domain/errors.ts"
import type { KeyRange } from "./keys.ts"
import type { Store, Write } from "./store.ts"

export interface Transaction {
  readonly get: (key: Buffer) => Effect.Effect<Buffer | undefined, IoError>
  /** Entries in [gte, lt) in key order, staged writes included. */
  readonly scan: (range: KeyRange) => Effect.Effect<Array<[Buffer, Buffer]>, IoError>
  readonly put: (key: Buffer, value: Buffer) => void
  readonly del: (key: Buffer) => void
  readonly writes: () => Iterable<Write>
}

// A latin1 string maps each byte to one UTF-16 unit, so string order is byte order.
const asString = (key: Buffer): string => key.toString("latin1")

export const makeTransaction = (store: Pick<Store, "get" | "scan">): Transaction => {
  const staged = new Map<string, Write>()
  return {
    get: (key) => {
      const write = staged.get(asString(key))
      return write === undefined ? store.get(key) : Effect.succeed(write[1] ?? undefined)
    },
    scan: (range) =>
      Effect.map(store.scan(range), (stored) => {
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
      }),
    put: (key, value) => {
      staged.set(asString(key), [key, value])
    },
    del: (key) => {
      staged.set(asString(key), [key, null])
    },
    writes: () => staged.values()
  }
}

/**
 * A store whose writes are staged in memory over `base`: reads (and transactions over it) see
 * them, and `writes` hands them over to be written to `base` in one batch. Several entries
 * applied on it cost one store write. Its scans must be bounded (gte and lt), as every scan
 * an apply makes is.
 */
export const stagedStore = (base: Pick<Store, "get" | "scan">) => {
  const staged = makeTransaction(base)
  const store: Pick<Store, "get" | "scan" | "write"> = {
    get: (key) => staged.get(key),
    scan: (range) =>
      range.gte !== undefined && range.lt !== undefined && range.gt === undefined && range.limit === undefined
        ? staged.scan({ gte: range.gte, lt: range.lt })
        : Effect.dieMessage("a scan of staged writes needs a [gte, lt) range"),
    write: (writes) =>
      Effect.sync(() => {
        for (const [key, value] of writes) {
          if (value === null) staged.del(key)
          else staged.put(key, value)
        }
      })
  }
  return { store, writes: staged.writes }
}
