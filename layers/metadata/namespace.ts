/**
 * The metadata state machine over any abstract-level store (classic-level, memory-level).
 * Each applied entry is one atomic batch holding its changes, its dedup record and the new
 * applied index, so replay after a crash is idempotent and a retried request id returns the
 * first outcome. Applies (and restores) are serialized; queries read store snapshots.
 */
import { Effect, Schema } from "effect"
import { type CommandOutcome, type LogEntry, TRANSACTION_TTL_MILLIS } from "../../src/domain/commands.ts"
import { Corruption, FsError, InvalidArgument } from "../../src/domain/errors.ts"
import { ROOT_INODE } from "../../src/domain/fs.ts"
import type { MetadataServiceShape, StoreError } from "../../src/services/MetadataService.ts"
import { applyCommand, commandTime } from "./commands.ts"
import * as Keys from "./keys.ts"
import { makeQueries } from "./queries.ts"
import type { InodeRecord, MetaRecord } from "./records.ts"
import { decodeSnapshot, encodeSnapshot } from "./snapshotFormat.ts"
import type { Store, Write } from "./store.ts"
import * as Tables from "./tables.ts"
import { makeTransaction } from "./transaction.ts"

/** How many log indices a request id is remembered for. Part of the replicated semantics. */
export const DEDUP_WINDOW = 100_000
/** Dedup records are pruned at log indices that are multiples of this (one scan, not one per entry). */
const PRUNE_INTERVAL = 1024

export interface NamespaceOptions {
  readonly chunkSize: number
  /** Must be equal on every replica; tests shrink it. */
  readonly dedupWindow?: number
  /**
   * How old a write transaction's versions may be when it commits (default
   * TRANSACTION_TTL_MILLIS). Must be equal on every replica; simulations shrink it.
   */
  readonly transactionTtlMillis?: number
}

/** The root directory of an empty store: nothing in it depends on the node that creates it. */
const ROOT: InodeRecord = {
  type: "directory", mode: 0o755, uid: 0, gid: 0, size: 0, nlink: 2,
  atime: 0, mtime: 0, ctime: 0, parent: ROOT_INODE, entries: 0
}

const EMPTY_META: MetaRecord = {
  appliedIndex: 0, nextInode: ROOT_INODE + 1, nextGarbage: 1, files: 0, directories: 1, bytes: 0, chunks: 0, clock: 0
}

const isFsError = Schema.is(FsError)

const OK_NULL: CommandOutcome = { _tag: "Ok", result: null }

export const makeNamespace = (
  store: Store,
  options: NamespaceOptions
): Effect.Effect<MetadataServiceShape, StoreError> =>
  Effect.gen(function*() {
    const chunkSize = options.chunkSize
    const dedupWindow = options.dedupWindow ?? DEDUP_WINDOW
    const transactionTtlMillis = options.transactionTtlMillis ?? TRANSACTION_TTL_MILLIS
    if (!Number.isSafeInteger(chunkSize) || chunkSize < 1) return yield* Effect.dieMessage(`invalid chunk size ${chunkSize}`)
    if (!Number.isSafeInteger(dedupWindow) || dedupWindow < 1) return yield* Effect.dieMessage(`invalid dedup window ${dedupWindow}`)
    if (!(transactionTtlMillis > 0)) return yield* Effect.dieMessage(`invalid transaction TTL ${transactionTtlMillis}`)

    if ((yield* Tables.readMeta(store.get)) === undefined) {
      yield* store.write([[Keys.inodeKey(ROOT_INODE), Tables.encodeInode(ROOT)], [Keys.metaKey, Tables.encodeMeta(EMPTY_META)]])
    }

    const serialized = (yield* Effect.makeSemaphore(1)).withPermits(1)

    const requireMeta = Effect.flatMap(Tables.readMeta(store.get), (meta) =>
      meta === undefined
        ? Effect.fail(new Corruption({ message: "metadata store: meta record is missing" }))
        : Effect.succeed(meta))

    /**
     * The first outcome of the entry's request id, if it has one. A request id reused for
     * another kind of command is refused rather than answered with an unrelated outcome.
     */
    const storedOutcome = (entry: LogEntry) =>
      entry.requestId === null
        ? Effect.succeed(undefined)
        : Effect.map(Tables.readRequest(store.get, entry.requestId), (stored): CommandOutcome | undefined =>
          stored === undefined || stored.command === entry.command._tag
            ? stored?.outcome
            : {
              _tag: "Err",
              error: new InvalidArgument({
                message: `request id ${entry.requestId} was already used for a ${stored.command}, not a ${entry.command._tag}`
              })
            })

    /** Deletes of the dedup records that fall out of the window at `index`. */
    const expiredRequests = (index: number) =>
      Effect.gen(function*() {
        const horizon = index - dedupWindow
        if (horizon < 1 || index % PRUNE_INTERVAL !== 0) return []
        const deletes: Array<Write> = []
        for (const [key, value] of yield* store.scan(Keys.requestsUpTo(horizon))) {
          const requestId = yield* Tables.decodeString(value)
          deletes.push([key, null])
          const stored = yield* Tables.readRequest(store.get, requestId)
          if (stored?.index === Keys.requestIndex(key)) deletes.push([Keys.requestKey(requestId), null])
        }
        return deletes
      })

    const apply: MetadataServiceShape["apply"] = (index, entry) =>
      serialized(Effect.gen(function*() {
        if (!Number.isSafeInteger(index)) return yield* Effect.dieMessage(`log index ${index} is not an integer`)
        const meta = yield* requireMeta
        const stored = yield* storedOutcome(entry)
        if (index <= meta.appliedIndex) return stored ?? OK_NULL

        const writes: Array<Write> = []
        let next: MetaRecord = { ...meta, appliedIndex: index }
        let outcome: CommandOutcome
        if (stored !== undefined) {
          outcome = stored
        } else {
          const tx = makeTransaction(store)
          // The clock advances with every command that applies (a refused one changes nothing).
          const counters = { ...next, clock: Math.max(next.clock, commandTime(entry.command)) }
          outcome = yield* applyCommand({ tx, meta: counters, chunkSize, transactionTtlMillis }, entry.command).pipe(
            Effect.map((result): CommandOutcome => {
              writes.push(...tx.writes())
              next = counters
              return { _tag: "Ok", result }
            }),
            Effect.catchIf(isFsError, (error) => Effect.succeed<CommandOutcome>({ _tag: "Err", error }))
          )
          if (entry.requestId !== null) {
            writes.push(
              [Keys.requestKey(entry.requestId), Tables.encodeRequest({ index, command: entry.command._tag, outcome })],
              [Keys.requestByIndexKey(index), Tables.encodeString(entry.requestId)]
            )
          }
        }
        writes.push(...yield* expiredRequests(index))
        writes.push([Keys.metaKey, Tables.encodeMeta(next)])
        yield* store.write(writes)
        return outcome
      }))

    const snapshot: MetadataServiceShape["snapshot"] = store.withView((view) =>
      Effect.gen(function*() {
        const rows = yield* store.scan({}, view)
        const metaRow = rows.find(([key]) => key.equals(Keys.metaKey))
        if (metaRow === undefined) return yield* new Corruption({ message: "metadata store: meta record is missing" })
        const meta = yield* Tables.decodeMeta(metaRow[1])
        return { appliedIndex: meta.appliedIndex, data: encodeSnapshot(rows) }
      })
    )

    // One batch deletes every current key and writes the snapshot's: a crash leaves either state whole.
    const restore: MetadataServiceShape["restore"] = (data) =>
      serialized(Effect.gen(function*() {
        const entries = yield* decodeSnapshot(data)
        const metaRow = entries.find(([key]) => key.equals(Keys.metaKey))
        if (metaRow === undefined) return yield* new Corruption({ message: "metadata snapshot: meta record is missing" })
        yield* Tables.decodeMeta(metaRow[1])
        const existing = yield* store.scanKeys({})
        yield* store.write([
          ...existing.map((key): Write => [key, null]),
          ...entries
        ])
      }))

    return {
      apply,
      appliedIndex: Effect.map(requireMeta, (meta) => meta.appliedIndex),
      snapshot,
      restore,
      ...makeQueries(store)
    }
  })
