/**
 * The metadata state machine over a Store (classic-level, memory-level, or the in-memory tree).
 * Each applied entry is one atomic batch holding its changes, the session bookkeeping of the
 * client request it serves (sessions.ts: a resend gets the recorded outcome, never a second
 * application) and the new applied index, so replay after a crash is idempotent. Applies (and
 * restores) are serialized; queries read store snapshots.
 *
 * Snapshots stream (snapshotFormat.ts): one is written page by page from a read view and
 * restored by reading its source twice, never whole in memory. A restore replaces the store in
 * many batches, so it brackets them with the restore marker (Keys.restoreMarkerKey): the first
 * batch writes it and deletes the meta record, the last writes the snapshot's meta record and
 * deletes it. LevelDB keeps a prefix of the batches across a crash, so a store that opens with
 * the marker was left midway: it is wiped to the empty store (applied index 0), and the
 * replicator restores the snapshot again from its own durable copy.
 */
import { Effect, Schema } from "effect"
import {
  type CommandOutcome, type LogEntry, type MetadataCommand, SESSION_TIMEOUT_MILLIS, TRANSACTION_TTL_MILLIS
} from "../../src/domain/commands.ts"
import { CommandError, Corruption } from "../../src/domain/errors.ts"
import { ROOT_INODE } from "../../src/domain/fs.ts"
import { makeKeyedLock } from "../../src/lib/keyedLock.ts"
import type { MetadataServiceShape, SnapshotSource, StoreError } from "../../src/services/MetadataService.ts"
import { applyCommand, commandTime } from "./commands.ts"
import * as Keys from "./keys.ts"
import { makeQueries } from "./queries.ts"
import type { InodeRecord, MetaRecord } from "./records.ts"
import * as Sessions from "./sessions.ts"
import { readSnapshot, startSnapshot } from "./snapshotFormat.ts"
import type { ReadView, Store, Write } from "./store.ts"
import * as Tables from "./tables.ts"
import { ScanNeeded, storeReads } from "./storeReads.ts"
import { makeTransaction, type Source, stageAll, type Transaction } from "./transaction.ts"

/** Expired sessions are pruned at log indices that are multiples of this (one scan, not one per entry). */
const PRUNE_INTERVAL = 256
/** Store entries read and encoded per step of a snapshot. */
const SNAPSHOT_PAGE = 4096
/** Most entries (keys, when deleting) a restore writes per batch... */
const RESTORE_BATCH_ENTRIES = 4096
/** ...and about the most bytes. */
const RESTORE_BATCH_BYTES = 4 * 1024 * 1024

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

/** What a fresh store holds. */
const EMPTY_STORE: ReadonlyArray<Write> = [
  [Keys.inodeKey(ROOT_INODE), Tables.encodeInode(ROOT)],
  [Keys.metaKey, Tables.encodeMeta(EMPTY_META)]
]

const MARKER_VALUE = Buffer.alloc(0)

const isCommandError = Schema.is(CommandError)

const snapshotCorruption = (message: string) => new Corruption({ message: `metadata snapshot: ${message}` })

/** Checks a snapshot's meta record. */
const checkMeta = (value: Buffer) =>
  Effect.mapError(Tables.attempt(() => Tables.decodeMeta(value)), (error) => snapshotCorruption(error.message))

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

    /** Delete every key but the restore marker, a page of keys per batch. */
    const deleteAll = Effect.gen(function*() {
      let after: Buffer | undefined
      while (true) {
        const keys = yield* store.scanKeys({ ...(after === undefined ? {} : { gt: after }), limit: RESTORE_BATCH_ENTRIES })
        const doomed = keys.filter((key) => !Keys.isRestoreMarker(key))
        if (doomed.length > 0) yield* store.write(doomed.map((key): Write => [key, null]))
        if (keys.length < RESTORE_BATCH_ENTRIES) return
        after = keys[keys.length - 1]
      }
    })

    if ((yield* Tables.attempt(() => store.peek(Keys.restoreMarkerKey))) !== undefined) {
      // A restore was cut short: what is here is part old state, part snapshot. The marker goes
      // last, so a crash during the wipe wipes again at the next open.
      yield* Effect.logWarning("metadata store: a snapshot restore did not finish; starting over from the empty store (applied index 0)")
      yield* deleteAll
      yield* store.write([...EMPTY_STORE, [Keys.restoreMarkerKey, null]])
    } else if ((yield* Tables.attempt(() => Tables.readMeta(store.peek))) === undefined) {
      yield* store.write(EMPTY_STORE)
    }

    // Applies and restores one at a time (a lock of one key: cheaper than a semaphore per apply).
    const locks = makeKeyedLock()
    const serialized = <A, E, R>(effect: Effect.Effect<A, E, R>) => locks.withLock("store", effect)
    const requireMeta = Tables.attempt(() => Tables.requireMeta(store.peek))

    /** What an entry at or below the applied index returns: its request's recorded outcome, if any. */
    const replayed = (source: Source, entry: LogEntry): CommandOutcome => {
      if (entry.request === null) return OK_NULL
      const reply = Tables.readReply(source.get, entry.request.session, entry.request.seq)
      return reply !== undefined && reply.digest === entry.request.digest ? reply.outcome : OK_NULL
    }

    /**
     * Carry out `command` at time `now`: a namespace command stages its writes in a transaction
     * of its own, kept (with the counters it moved and the clock) only when it succeeds, so a
     * refused command changes nothing; session commands act on the session table.
     */
    const carryOut = (source: Source, command: MetadataCommand, meta: MetaRecord, now: number, sessionTx: Transaction): Carried => {
      const advanced: MetaRecord = { ...meta, clock: now }
      if (command._tag === "OpenSession" || command._tag === "CloseSession") {
        const outcome = command._tag === "OpenSession"
          ? Sessions.open(sessionTx, command.session, command.create, now, sessions)
          : Sessions.close(sessionTx, command.session, sessions)
        return { outcome, writes: [], meta: outcome._tag === "Ok" ? advanced : meta }
      }
      const tx = makeTransaction(source)
      const counters = { ...advanced }
      try {
        const result = applyCommand({ tx, meta: counters, chunkSize, transactionTtlMillis }, command)
        return { outcome: { _tag: "Ok", result }, writes: [...tx.writes()], meta: counters }
      } catch (error) {
        if (isCommandError(error)) return { outcome: { _tag: "Err", error }, writes: [], meta }
        throw error
      }
    }

    /**
     * Apply one entry into `batch`: its changes, its session bookkeeping and the new applied
     * index. Everything is read and decided before the first write is staged into `batch`, so
     * a throw (a scan to read first, a store error) leaves `batch` as it was.
     */
    const applyEntry = (batch: Transaction, index: number, entry: LogEntry): CommandOutcome => {
      if (!Number.isSafeInteger(index)) throw new Error(`log index ${index} is not an integer`)
      const meta = Tables.requireMeta(batch.get)
      if (index <= meta.appliedIndex) return replayed(batch, entry)

      // The entry's time: the state machine's clock moves to it when its command applies.
      const now = Math.max(meta.clock, entry.clock ?? commandTime(entry.command))
      const sessionTx = makeTransaction(batch)
      const request = entry.request
      let carried: Carried
      if (request === null) {
        carried = carryOut(batch, entry.command, meta, now, sessionTx)
      } else {
        const admission = Sessions.admit(sessionTx, request, now, sessions)
        if (admission._tag === "Admitted") {
          carried = carryOut(batch, entry.command, meta, now, sessionTx)
          Sessions.record(sessionTx, request, admission.session, carried.outcome, now, sessions)
        } else {
          carried = { outcome: admission.outcome, writes: [], meta }
        }
      }
      if (index % pruneInterval === 0) Sessions.pruneExpired(sessionTx, now, sessions)
      stageAll(batch, carried.writes)
      stageAll(batch, sessionTx.writes())
      batch.put(Keys.metaKey, Tables.encodeMeta({ ...carried.meta, appliedIndex: index }))
      return carried.outcome
    }

    // The entries apply one after another into one transaction over the store, so each sees
    // the ones before it, and all of them reach the store in one batch. They run synchronously;
    // only a scan LevelDB must answer first (storeReads.ts) or the final write yields.
    const applyAll: MetadataServiceShape["applyAll"] = (entries, onDecided) =>
      serialized(Effect.suspend(() => {
        const reads = storeReads(store)
        const batch = makeTransaction(reads.source)
        const outcomes: Array<CommandOutcome> = []
        const applyRest: Effect.Effect<Array<CommandOutcome>, StoreError> = Effect.suspend(() => {
          try {
            while (outcomes.length < entries.length) {
              const { entry, index } = entries[outcomes.length]!
              outcomes.push(applyEntry(batch, index, entry))
            }
          } catch (thrown) {
            if (thrown instanceof ScanNeeded) return Effect.zipRight(reads.fetch(thrown.range), applyRest)
            return Tables.fromThrown<StoreError>(thrown)
          }
          onDecided?.(outcomes)
          return Effect.as(store.write(batch.writes()), outcomes)
        })
        return applyRest
      }))

    const apply: MetadataServiceShape["apply"] = (index, entry) =>
      Effect.map(applyAll([{ index, entry }]), (outcomes) => outcomes[0]!)

    /**
     * `use` with a read view taken between applies and restores, never amid a restore's batches;
     * applies and restores go on while `use` runs.
     */
    const withSettledView = <A, E>(use: (view: ReadView) => Effect.Effect<A, E>) =>
      Effect.uninterruptibleMask((interruptible) =>
        Effect.flatMap(interruptible(locks.lock("store")), () => {
          let held = true
          const release = Effect.sync(() => {
            if (!held) return
            held = false
            locks.unlock("store")
          })
          return interruptible(store.withView((view) => Effect.zipRight(release, use(view)))).pipe(Effect.ensuring(release))
        })
      )

    // Page by page through one read view, each page handed to `write` as it is encoded:
    // consistent however long it takes, never whole in memory, and the event loop (the Raft
    // loop, other requests) runs between pages instead of waiting for the whole store.
    const snapshot: MetadataServiceShape["snapshot"] = (write) =>
      withSettledView((view) =>
        Effect.gen(function*() {
          const encoder = yield* startSnapshot(write)
          let meta: MetaRecord | undefined
          let after: Buffer | undefined
          while (true) {
            const rows = yield* store.scan({ ...(after === undefined ? {} : { gt: after }), limit: SNAPSHOT_PAGE }, view)
            for (const [key, value] of rows) {
              if (Keys.isRestoreMarker(key)) {
                // Only a restore that failed midway leaves it (with no meta record) in a live store.
                return yield* new Corruption({ message: "metadata store: a snapshot restore did not finish" })
              }
              if (meta === undefined && key.equals(Keys.metaKey)) meta = yield* Tables.attempt(() => Tables.decodeMeta(value))
            }
            yield* encoder.add(rows)
            if (rows.length < SNAPSHOT_PAGE) break
            after = rows[rows.length - 1]![0]
            yield* Effect.yieldNow()
          }
          if (meta === undefined) return yield* new Corruption({ message: "metadata store: meta record is missing" })
          return { appliedIndex: meta.appliedIndex, size: yield* encoder.finish }
        })
      )

    /** First pass: the snapshot's framing, order and checksum, and its meta record; nothing is written. */
    const check = (source: SnapshotSource) =>
      Effect.gen(function*() {
        let meta: Buffer | undefined
        let marker = false
        yield* readSnapshot(source, (entries) =>
          Effect.sync(() => {
            for (const [key, value] of entries) {
              if (key.equals(Keys.metaKey)) meta = Buffer.from(value)
              else if (Keys.isRestoreMarker(key)) marker = true
            }
          }))
        if (marker) return yield* snapshotCorruption("it holds the restore marker key")
        if (meta === undefined) return yield* snapshotCorruption("meta record is missing")
        yield* checkMeta(meta)
      })

    /**
     * Second pass: replace the store, in batches bracketed by the restore marker. Its own checks
     * still run (the source is read again); one failing leaves the marker and no meta record, so
     * applies fail until the restore is done again or the store reopens empty.
     */
    const replace = (source: SnapshotSource) =>
      Effect.gen(function*() {
        yield* store.write([[Keys.restoreMarkerKey, MARKER_VALUE], [Keys.metaKey, null]])
        yield* deleteAll
        let batch: Array<Write> = []
        let batchBytes = 0
        let meta: Buffer | undefined
        yield* readSnapshot(source, (entries) =>
          Effect.gen(function*() {
            for (const [key, value] of entries) {
              if (Keys.isRestoreMarker(key)) return yield* snapshotCorruption("it holds the restore marker key")
              // Copies: the store never aliases the source's bytes. The meta record goes last.
              if (key.equals(Keys.metaKey)) {
                meta = Buffer.from(value)
                continue
              }
              batch.push([Buffer.from(key), Buffer.from(value)])
              batchBytes += key.length + value.length
              if (batch.length >= RESTORE_BATCH_ENTRIES || batchBytes >= RESTORE_BATCH_BYTES) {
                yield* store.write(batch)
                batch = []
                batchBytes = 0
              }
            }
          }))
        if (meta === undefined) return yield* snapshotCorruption("meta record is missing")
        yield* checkMeta(meta)
        yield* store.write([...batch, [Keys.metaKey, meta], [Keys.restoreMarkerKey, null]])
      })

    // The snapshot is read twice rather than held: a damaged one is refused before the store changes.
    const restore: MetadataServiceShape["restore"] = (source) =>
      serialized(Effect.zipRight(check(source), replace(source)))

    return {
      apply,
      applyAll,
      appliedIndex: Effect.map(requireMeta, (meta) => meta.appliedIndex),
      clock: Effect.map(requireMeta, (meta) => meta.clock),
      session: (id) => Tables.attempt(() => Tables.readSession(store.peek, id)),
      snapshot,
      flush: store.flush,
      restore,
      ...makeQueries(store, sessions)
    }
  })
