/**
 * The few operations the state machine needs from an ordered key-value store, with `IoError`:
 * point reads (synchronous: the state machine's transitions run without yielding), range scans,
 * atomic batches and consistent read views. `makeStore` gives them over an abstract-level
 * database (classic-level on disk, memory-level in memory): point reads use `getSync`,
 * supported by both; scans are promises; writes go through one chained batch, which is atomic
 * and several times faster than the array form. (treeStore.ts gives them over an in-memory
 * persistent tree, where scans are synchronous too.)
 */
import { Effect } from "effect"
import type { AbstractLevel, AbstractSnapshot } from "abstract-level"
import { IoError } from "../../src/domain/errors.ts"

/** A database opened with `keyEncoding: "buffer"` and `valueEncoding: "buffer"`. */
export type LevelDatabase = AbstractLevel<string | Buffer | Uint8Array, Buffer, Buffer>

/** A consistent read view: every read through it sees the same committed state. Opaque to its users. */
export interface ReadView {
  readonly _readView: unique symbol
}

export interface ScanRange {
  readonly gt?: Buffer
  readonly gte?: Buffer
  readonly lt?: Buffer
  readonly limit?: number
}

/** A write: a value to put, or null to delete. */
export type Write = readonly [key: Buffer, value: Buffer | null]

export interface Store {
  /** The value of `key`, read synchronously; throws IoError. */
  readonly peek: (key: Buffer, view?: ReadView) => Buffer | undefined
  /** Entries in the range (no bounds: the whole store) in key order. */
  readonly scan: (range: ScanRange, view?: ReadView) => Effect.Effect<Array<[Buffer, Buffer]>, IoError>
  /** `scan`, synchronously (throws IoError), where the store can. */
  readonly scanNow?: (range: ScanRange, view?: ReadView) => Array<[Buffer, Buffer]>
  readonly scanKeys: (range: ScanRange) => Effect.Effect<Array<Buffer>, IoError>
  /** Apply all writes atomically, in order (a later write to a key wins). */
  readonly write: (writes: Iterable<Write>) => Effect.Effect<void, IoError>
  /** Make every write so far durable (writes need not be on their own). */
  readonly flush: Effect.Effect<void, IoError>
  /** Run `use` against a snapshot of the database, released when it completes. */
  readonly withView: <A, E>(use: (view: ReadView) => Effect.Effect<A, E>) => Effect.Effect<A, E | IoError>
}

const ioError = (operation: string) => (cause: unknown) =>
  new IoError({ message: `metadata store: ${operation} failed: ${cause instanceof Error ? cause.message : String(cause)}` })

const snapshotOf = (view: ReadView) => view as unknown as AbstractSnapshot

/**
 * A key no record uses: deleting it with `sync` syncs LevelDB's log, which holds every earlier
 * write, and leaves nothing a read or scan can see.
 */
const FLUSH_KEY = Buffer.from("\xff\xffflush", "latin1")

export const makeStore = (db: LevelDatabase, options: { readonly sync: boolean }): Store => ({
  peek: (key, view) => {
    try {
      return view === undefined ? db.getSync(key) : db.getSync(key, { snapshot: snapshotOf(view) })
    } catch (cause) {
      throw ioError("get")(cause)
    }
  },
  scan: (range, view) =>
    Effect.tryPromise({
      try: () => db.iterator({ ...range, ...(view === undefined ? {} : { snapshot: snapshotOf(view) }) }).all(),
      catch: ioError("scan")
    }),
  scanKeys: (range) => Effect.tryPromise({ try: () => db.keys(range).all(), catch: ioError("scan") }),
  write: (writes) =>
    Effect.tryPromise({
      try: () => {
        const batch = db.batch()
        for (const [key, value] of writes) {
          if (value === null) batch.del(key)
          else batch.put(key, value)
        }
        return batch.write({ sync: options.sync })
      },
      catch: ioError("batch write")
    }),
  flush: options.sync
    ? Effect.void
    : Effect.tryPromise({ try: () => db.batch().del(FLUSH_KEY).write({ sync: true }), catch: ioError("flush") }),
  // Not a Scope: acquireUseRelease costs ~1 µs, a scope ~30 µs, and every lookup takes a view.
  withView: (use) =>
    Effect.acquireUseRelease(
      Effect.try({ try: () => db.snapshot(), catch: ioError("snapshot") }),
      (snapshot) => use(snapshot as unknown as ReadView),
      // close() releases the snapshot at once; what it returns only settles the bookkeeping.
      (snapshot) => Effect.sync(() => void snapshot.close().catch(() => undefined))
    )
})
