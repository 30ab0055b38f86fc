/**
 * Planted bugs: test-only wrappers, each breaking one rule the system must keep, so the tests
 * can show the simulation catches it. They wrap service layers of the simulated topology only;
 * no production layer has a switch for them.
 */
import { Effect, FiberRef, Layer, Random } from "effect"
import { makeBoundedAdmission } from "../../layers/admission/bounded.ts"
import { SessionIds } from "../client/ClientSession.ts"
import { Admission } from "../services/Admission.ts"
import type { ChunkUpdate, LogEntry, RequestTag } from "../domain/commands.ts"
import type { SessionId } from "../domain/session.ts"
import { ControlPlaneOrchestrator } from "../services/ControlPlaneOrchestrator.ts"
import { TransactionCoordinator } from "../services/TransactionCoordinator.ts"
import { MetadataReplicator } from "../services/MetadataReplicator.ts"
import { applyOneByOne, MetadataService, type MetadataServiceShape } from "../services/MetadataService.ts"
import { WriteAheadLog } from "../services/WriteAheadLog.ts"

export type PlantedBug =
  /** Linearizable reads run on the local store without confirming leadership (no ReadIndex). */
  | "readWithoutReadIndex"
  /** A WAL append resolves before its fsync: Raft acknowledges entries a crash can still lose. */
  | "ackBeforeFsync"
  /** After a restart the state machine forgets its applied index and applies recent entries again. */
  | "applyTwiceAfterRestart"
  /** CommitWrite ignores the chunk versions the writer read: concurrent writers lose updates. */
  | "skipVersionCondition"
  /**
   * Deduplication by internal attempt, as before client sessions: a write's attempt n commits
   * under its own id, so a resent write whose attempts are numbered differently from the
   * original's applies again.
   */
  | "dedupByAttempt"
  /** Session ids from a weakly seeded generator: clients started alike share one session. */
  | "lowEntropySessionIds"
  /** Requests on an expired (or pruned) session are applied anyway, without their session. */
  | "skipSessionExpiry"
  /** No admission control and no bound on requests waiting on the log: an overloaded node's queues grow without end. */
  | "unboundedQueues"

export const PLANTED_BUGS: ReadonlyArray<PlantedBug> = [
  "readWithoutReadIndex",
  "ackBeforeFsync",
  "applyTwiceAfterRestart",
  "skipVersionCondition",
  "dedupByAttempt",
  "lowEntropySessionIds",
  "skipSessionExpiry",
  "unboundedQueues"
]

/** Entries re-applied after a restart by `applyTwiceAfterRestart`. */
const REAPPLIED_ENTRIES = 50

export const readWithoutReadIndex = <E, R>(replicator: Layer.Layer<MetadataReplicator, E, R>) =>
  Layer.effect(
    MetadataReplicator,
    Effect.map(MetadataReplicator, (inner) => MetadataReplicator.of({ ...inner, linearizable: (read) => read }))
  ).pipe(Layer.provide(replicator))

export const ackBeforeFsync = <E, R>(wal: Layer.Layer<WriteAheadLog, E, R>) =>
  Layer.scoped(
    WriteAheadLog,
    Effect.gen(function*() {
      const inner = yield* WriteAheadLog
      const scope = yield* Effect.scope
      // The append starts (forked fibers start in order, so records stay in order) and the
      // caller is told "durable" at once.
      return WriteAheadLog.of({
        ...inner,
        append: (records) => Effect.asVoid(Effect.forkIn(Effect.ignore(inner.append(records)), scope))
      })
    })
  ).pipe(Layer.provide(wal))

/**
 * Re-applies the last REAPPLIED_ENTRIES entries after a boot: it reports an applied index that
 * far behind, and maps every entry to a fresh index of the inner store (re-applied ones without
 * their client request, so deduplication does not catch them).
 */
export const applyTwiceAfterRestart = <E, R>(metadata: Layer.Layer<MetadataService, E, R>) =>
  Layer.effect(
    MetadataService,
    Effect.gen(function*() {
      const inner = yield* MetadataService
      const real = yield* Effect.orDie(inner.appliedIndex)
      const reported = Math.max(0, real - REAPPLIED_ENTRIES)
      let shift = real - reported
      const apply = (index: number, entry: LogEntry) =>
        inner.apply(index + shift, index <= real ? { ...entry, request: null } : entry)
      const service: MetadataServiceShape = {
        ...inner,
        appliedIndex: Effect.map(inner.appliedIndex, (index) => Math.max(0, index - shift)),
        apply,
        applyAll: applyOneByOne(apply),
        restore: (source) => Effect.zipRight(inner.restore(source), Effect.sync(() => { shift = 0 }))
      }
      return MetadataService.of(service)
    })
  ).pipe(Layer.provide(metadata))

/** Rewrites each CommitWrite's expected versions and lengths to whatever is current at apply time. */
export const skipVersionCondition = <E, R>(metadata: Layer.Layer<MetadataService, E, R>) =>
  Layer.effect(
    MetadataService,
    Effect.map(MetadataService, (inner) => {
      const apply: MetadataServiceShape["apply"] = (index, entry) =>
        Effect.gen(function*() {
          const command = entry.command
          if (command._tag !== "CommitWrite") return yield* inner.apply(index, entry)
          const current = yield* inner.chunks(command.inode).pipe(Effect.orElseSucceed(() => []))
          const updates: Array<ChunkUpdate> = command.updates.map((update) => {
            const now = current.find((chunk) => chunk.index === update.chunk.index)
            return { ...update, expectedVersionId: now?.versionId ?? null, expectedLength: now?.length ?? 0 }
          })
          const { expectedSize: _ignored, ...rest } = command
          return yield* inner.apply(index, { ...entry, command: { ...rest, updates } })
        })
      return MetadataService.of({ ...inner, apply, applyAll: applyOneByOne(apply) })
    })
  ).pipe(Layer.provide(metadata))

/** The attempt a write handler is on: each plan of it counts one (a handler fiber serves one request). */
const WriteAttempt = FiberRef.unsafeMake(0)
/** Attempt ids per request id: request n's attempt k is sub-request n * ATTEMPT_IDS + k. */
const ATTEMPT_IDS = 64

const byAttempt = (request: RequestTag | null, attempt: number): RequestTag | null =>
  request === null ? null : { ...request, seq: request.seq * ATTEMPT_IDS + attempt, ackedBelow: request.ackedBelow * ATTEMPT_IDS }

/**
 * `dedupByAttempt`, on the control plane the data plane plans through: every request id is
 * spread into attempt ids, and a write's n-th plan (and its commit) uses attempt id n, so the
 * state machine deduplicates attempts, not client requests.
 */
export const dedupByAttemptControl = <E, R>(control: Layer.Layer<ControlPlaneOrchestrator, E, R>) =>
  Layer.effect(
    ControlPlaneOrchestrator,
    Effect.map(ControlPlaneOrchestrator, (inner) =>
      ControlPlaneOrchestrator.of({
        ...inner,
        create: (fields, request) => inner.create(fields, byAttempt(request, 0)),
        mkdir: (fields, request) => inner.mkdir(fields, byAttempt(request, 0)),
        unlink: (parent, name, request) => inner.unlink(parent, name, byAttempt(request, 0)),
        rmdir: (parent, name, request) => inner.rmdir(parent, name, byAttempt(request, 0)),
        rename: (srcParent, srcName, dstParent, dstName, request) =>
          inner.rename(srcParent, srcName, dstParent, dstName, byAttempt(request, 0)),
        setattr: (inode, changes, request) => inner.setattr(inode, changes, byAttempt(request, 0)),
        prepareWrite: (inode, at, length, request, optimistic) =>
          Effect.flatMap(FiberRef.getAndUpdate(WriteAttempt, (n) => n + 1), (attempt) =>
            inner.prepareWrite(inode, at, length, byAttempt(request, attempt), optimistic))
      }))
  ).pipe(Layer.provide(control))

/** `dedupByAttempt`, on the coordinator: a write commits under the id of the attempt that planned it. */
export const dedupByAttemptCoordinator = <E, R>(coordinator: Layer.Layer<TransactionCoordinator, E, R>) =>
  Layer.effect(
    TransactionCoordinator,
    Effect.map(TransactionCoordinator, (inner) =>
      TransactionCoordinator.of({
        commit: (tx) => Effect.flatMap(FiberRef.get(WriteAttempt), (planned) => inner.commit({ ...tx, request: byAttempt(tx.request, planned - 1) }))
      }))
  ).pipe(Layer.provide(coordinator))

/**
 * `lowEntropySessionIds`: each client draws its session id from its own generator seeded with
 * the same few bits, as processes seeded from a coarse clock would: they all get the same id.
 */
export const lowEntropySessionIds = Layer.sync(SessionIds, () => {
  const weak = Random.make(LOW_ENTROPY_SEED)
  return {
    next: Effect.map(
      Effect.all(Array.from({ length: 4 }, () => weak.nextIntBetween(0, 2 ** 32))),
      (words) => words.map((word) => word.toString(16).padStart(8, "0")).join("") as SessionId
    )
  }
})
const LOW_ENTROPY_SEED = 7

/**
 * `skipSessionExpiry`: a request whose session expired (or was pruned, or never opened) is
 * planned and applied anyway, as one without a session — nothing can deduplicate it then. Both
 * places that check a session leave the check out: a write's planning (writeLayout) and the
 * state machine's apply.
 */
export const skipSessionExpiry = <E, R>(metadata: Layer.Layer<MetadataService, E, R>, sessionTimeoutMillis: number) =>
  Layer.effect(
    MetadataService,
    Effect.map(MetadataService, (inner) => {
      const openAt = (request: RequestTag, clock: number) =>
        Effect.map(inner.session(request.session), (session) =>
          session !== undefined && clock - session.lastActive <= sessionTimeoutMillis)
      const apply: MetadataServiceShape["apply"] = (index, entry) =>
        Effect.gen(function*() {
          const request = entry.request
          if (request === null) return yield* inner.apply(index, entry)
          const open = yield* openAt(request, Math.max(yield* inner.clock, entry.clock ?? 0))
          return yield* inner.apply(index, open ? entry : { ...entry, request: null })
        })
      return MetadataService.of({
        ...inner,
        // A recorded answer is still found; only the refusal of a session not open is gone.
        writeLayout: (inode, request) =>
          inner.writeLayout(inode, request).pipe(Effect.catchTag("SessionExpired", () => inner.writeLayout(inode, null))),
        apply,
        applyAll: applyOneByOne(apply)
      })
    })
  ).pipe(Layer.provide(metadata))

/** `unboundedQueues`, at the server: every request is admitted, however many are in flight (the stats still count them). */
export const unboundedAdmission = Layer.effect(
  Admission,
  Effect.map(
    makeBoundedAdmission({
      maxRequests: Number.POSITIVE_INFINITY,
      maxRequestsPerConnection: Number.POSITIVE_INFINITY,
      maxBytes: Number.POSITIVE_INFINITY,
      maxBytesPerConnection: Number.POSITIVE_INFINITY,
      retryAfterMillis: 0
    }),
    (admission) => admission
  )
)

/** `unboundedQueues`, at the log: no bound on the requests waiting for their outcome. */
export const UNBOUNDED_PENDING = Number.POSITIVE_INFINITY
