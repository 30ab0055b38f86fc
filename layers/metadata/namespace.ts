/**
 * The metadata state machine over a Store (classic-level, memory-level, or the in-memory tree).
 * Each applied entry is one atomic batch holding its changes, the session bookkeeping of the
 * client request it serves (sessions.ts: a resend gets the recorded outcome, never a second
 * application) and the new applied index, so replay after a crash is idempotent. Applies (and
 * restores) are serialized; queries read store snapshots.
 */
import { Effect, Schema } from "effect"
import {
  type CommandOutcome, type LogEntry, type MetadataCommand, SESSION_TIMEOUT_MILLIS, TRANSACTION_TTL_MILLIS
} from "../../src/domain/commands.ts"
import { CommandError, Corruption } from "../../src/domain/errors.ts"
import { ROOT_INODE } from "../../src/domain/fs.ts"
import type { MetadataServiceShape, StoreError } from "../../src/services/MetadataService.ts"
import { applyCommand, commandTime } from "./commands.ts"
import * as Keys from "./keys.ts"
import { makeQueries } from "./queries.ts"
import type { InodeRecord, MetaRecord } from "./records.ts"
import * as Sessions from "./sessions.ts"
import { decodeSnapshot, SnapshotEncoder } from "./snapshotFormat.ts"
import type { Store, Write } from "./store.ts"
import * as Tables from "./tables.ts"
import { makeTransaction, stagedStore, type Transaction } from "./transaction.ts"

/** Expired sessions are pruned at log indices that are multiples of this (one scan, not one per entry). */
const PRUNE_INTERVAL = 256
/** Store entries read and encoded per step of a snapshot. */
const SNAPSHOT_PAGE = 4096

export interface NamespaceOptions {
  readonly chunkSize: number
  /**
   * How old a write transaction's versions may be when it commits (default
   * TRANSACTION_TTL_MILLIS). Must be equal on every replica; simulations shrink it.
   */
  readonly transactionTtlMillis?: number
  /** A client session unused this long expires (default SESSION_TIMEOUT_MILLIS). Equal on every replica. */
  readonly sessionTimeoutMillis?: number
  /** Expired sessions are pruned every this many log indices (default 256). Equal on every replica. */
  readonly sessionPruneInterval?: number
}

/** The root directory of an empty store: nothing in it depends on the node that creates it. */
const ROOT: InodeRecord = {
  type: "directory", mode: 0o755, uid: 0, gid: 0, size: 0, nlink: 2,
  atime: 0, mtime: 0, ctime: 0, parent: ROOT_INODE, entries: 0
}

const EMPTY_META: MetaRecord = {
  appliedIndex: 0, nextInode: ROOT_INODE + 1, nextGarbage: 1, files: 0, directories: 1, bytes: 0, chunks: 0, clock: 0
}

const isCommandErrorValue = Schema.is(CommandError)
const isCommandError = <E>(error: E): error is Extract<E, CommandError> => isCommandErrorValue(error)

const OK_NULL: CommandOutcome = { _tag: "Ok", result: null }

/** A command carried out: its outcome, the writes to keep and the counters after it. */
interface Carried {
  readonly outcome: CommandOutcome
  readonly writes: ReadonlyArray<Write>
  readonly meta: MetaRecord
}


export const makeNamespace = (
  store: Store,
  options: NamespaceOptions
): Effect.Effect<MetadataServiceShape, StoreError> =>
  Effect.gen(function*() {
    const chunkSize = options.chunkSize
    const transactionTtlMillis = options.transactionTtlMillis ?? TRANSACTION_TTL_MILLIS
    const sessions: Sessions.SessionSettings = { timeoutMillis: options.sessionTimeoutMillis ?? SESSION_TIMEOUT_MILLIS }
    const pruneInterval = options.sessionPruneInterval ?? PRUNE_INTERVAL
    if (!Number.isSafeInteger(chunkSize) || chunkSize < 1) return yield* Effect.dieMessage(`invalid chunk size ${chunkSize}`)
    if (!(transactionTtlMillis > 0)) return yield* Effect.dieMessage(`invalid transaction TTL ${transactionTtlMillis}`)
    if (!(sessions.timeoutMillis > 0)) return yield* Effect.dieMessage(`invalid session timeout ${sessions.timeoutMillis}`)
    if (!Number.isSafeInteger(pruneInterval) || pruneInterval < 1) return yield* Effect.dieMessage(`invalid prune interval ${pruneInterval}`)

    if ((yield* Tables.readMeta(store.get)) === undefined) {
      yield* store.write([[Keys.inodeKey(ROOT_INODE), Tables.encodeInode(ROOT)], [Keys.metaKey, Tables.encodeMeta(EMPTY_META)]])
    }

    const serialized = (yield* Effect.makeSemaphore(1)).withPermits(1)

    /** The store an apply reads and writes: the database, or writes staged over it (applyAll). */
    type Target = Pick<Store, "get" | "scan" | "write">

    const readMetaOf = (target: Target) =>
      Effect.flatMap(Tables.readMeta(target.get), (meta) =>
        meta === undefined
          ? Effect.fail(new Corruption({ message: "metadata store: meta record is missing" }))
          : Effect.succeed(meta))
    const requireMeta = readMetaOf(store)

    /** What an entry at or below the applied index returns: its request's recorded outcome, if any. */
    const replayed = (target: Target, entry: LogEntry) =>
      entry.request === null
        ? Effect.succeed(OK_NULL)
        : Effect.map(Tables.readReply(target.get, entry.request.session, entry.request.seq), (reply) =>
          reply !== undefined && reply.digest === entry.request!.digest ? reply.outcome : OK_NULL)

    /**
     * Carry out `command` at time `now`: a namespace command stages its writes in a transaction
     * of its own, kept (with the counters it moved and the clock) only when it succeeds, so a
     * refused command changes nothing; session commands act on the session table.
     */
    const carryOut = (
      target: Target,
      command: MetadataCommand,
      meta: MetaRecord,
      now: number,
      sessionTx: Transaction
    ): Effect.Effect<Carried, StoreError> =>
      Effect.gen(function*() {
        const advanced: MetaRecord = { ...meta, clock: now }
        if (command._tag === "OpenSession" || command._tag === "CloseSession") {
          const outcome = command._tag === "OpenSession"
            ? yield* Sessions.open(sessionTx, command.session, command.create, now, sessions)
            : yield* Sessions.close(sessionTx, command.session)
          return { outcome, writes: [], meta: outcome._tag === "Ok" ? advanced : meta }
        }
        const tx = makeTransaction(target)
        const counters = { ...advanced }
        return yield* applyCommand({ tx, meta: counters, chunkSize, transactionTtlMillis }, command).pipe(
          Effect.map((result): Carried => ({ outcome: { _tag: "Ok", result }, writes: [...tx.writes()], meta: counters })),
          Effect.catchIf(isCommandError, (error) => Effect.succeed<Carried>({ outcome: { _tag: "Err", error }, writes: [], meta }))
        )
      })

    /** Apply one entry on `target`: its changes, its session bookkeeping and the new applied index, in one write. */
    const applyOn = (target: Target, index: number, entry: LogEntry): Effect.Effect<CommandOutcome, StoreError> =>
      Effect.gen(function*() {
        if (!Number.isSafeInteger(index)) return yield* Effect.dieMessage(`log index ${index} is not an integer`)
        const meta = yield* readMetaOf(target)
        if (index <= meta.appliedIndex) return yield* replayed(target, entry)

        // The entry's time: the state machine's clock moves to it when its command applies.
        const now = Math.max(meta.clock, entry.clock ?? commandTime(entry.command))
        const sessionTx = makeTransaction(target)
        const request = entry.request
        let carried: Carried
        if (request === null) {
          carried = yield* carryOut(target, entry.command, meta, now, sessionTx)
        } else {
          const admission = yield* Sessions.admit(sessionTx, request, now, sessions)
          if (admission._tag === "Admitted") {
            carried = yield* carryOut(target, entry.command, meta, now, sessionTx)
            yield* Sessions.record(sessionTx, request, admission.session, carried.outcome, now)
          } else {
            carried = { outcome: admission.outcome, writes: [], meta }
          }
        }
        if (index % pruneInterval === 0) yield* Sessions.pruneExpired(sessionTx, now, sessions)
        yield* target.write([
          ...carried.writes,
          ...sessionTx.writes(),
          [Keys.metaKey, Tables.encodeMeta({ ...carried.meta, appliedIndex: index })]
        ])
        return carried.outcome
      })

    const apply: MetadataServiceShape["apply"] = (index, entry) => serialized(applyOn(store, index, entry))

    // Each entry applies on writes staged over the store, so it sees the ones before it; all
    // of them reach the store in one batch.
    const applyAll: MetadataServiceShape["applyAll"] = (entries) =>
      serialized(Effect.gen(function*() {
        if (entries.length === 1) return [yield* applyOn(store, entries[0]!.index, entries[0]!.entry)]
        const staged = stagedStore(store)
        const outcomes: Array<CommandOutcome> = []
        for (const { entry, index } of entries) outcomes.push(yield* applyOn(staged.store, index, entry))
        yield* store.write(staged.writes())
        return outcomes
      }))

    // Page by page through one read view: consistent however long it takes, and the event loop
    // (the Raft loop, other requests) runs between pages instead of waiting for the whole store.
    const snapshot: MetadataServiceShape["snapshot"] = store.withView((view) =>
      Effect.gen(function*() {
        const encoder = new SnapshotEncoder()
        let meta: MetaRecord | undefined
        let after: Buffer | undefined
        while (true) {
          const rows = yield* store.scan(after === undefined ? { limit: SNAPSHOT_PAGE } : { gt: after, limit: SNAPSHOT_PAGE }, view)
          if (meta === undefined) {
            const metaRow = rows.find(([key]) => key.equals(Keys.metaKey))
            if (metaRow !== undefined) meta = yield* Tables.decodeMeta(metaRow[1])
          }
          encoder.add(rows)
          if (rows.length < SNAPSHOT_PAGE) break
          after = rows[rows.length - 1]![0]
          yield* Effect.yieldNow()
        }
        if (meta === undefined) return yield* new Corruption({ message: "metadata store: meta record is missing" })
        return { appliedIndex: meta.appliedIndex, data: yield* encoder.finish }
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
      applyAll,
      appliedIndex: Effect.map(requireMeta, (meta) => meta.appliedIndex),
      clock: Effect.map(requireMeta, (meta) => meta.clock),
      session: (id) => Tables.readSession(store.get, id),
      snapshot,
      flush: store.flush,
      restore,
      ...makeQueries(store, sessions)
    }
  })
