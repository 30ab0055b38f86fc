/**
 * Planted bugs: test-only wrappers, each breaking one rule the system must keep, so the tests
 * can show the simulation catches it. They wrap service layers of the simulated topology only;
 * no production layer has a switch for them.
 */
import { Effect, Layer } from "effect"
import type { ChunkUpdate, LogEntry } from "../domain/commands.ts"
import { MetadataReplicator } from "../services/MetadataReplicator.ts"
import { MetadataService, type MetadataServiceShape } from "../services/MetadataService.ts"
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

export const PLANTED_BUGS: ReadonlyArray<PlantedBug> = [
  "readWithoutReadIndex",
  "ackBeforeFsync",
  "applyTwiceAfterRestart",
  "skipVersionCondition"
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
      const service: MetadataServiceShape = {
        ...inner,
        appliedIndex: Effect.map(inner.appliedIndex, (index) => Math.max(0, index - shift)),
        apply: (index: number, entry: LogEntry) =>
          inner.apply(index + shift, index <= real ? { ...entry, request: null } : entry),
        restore: (data) => Effect.zipRight(inner.restore(data), Effect.sync(() => { shift = 0 }))
      }
      return MetadataService.of(service)
    })
  ).pipe(Layer.provide(metadata))

/** Rewrites each CommitWrite's expected versions and lengths to whatever is current at apply time. */
export const skipVersionCondition = <E, R>(metadata: Layer.Layer<MetadataService, E, R>) =>
  Layer.effect(
    MetadataService,
    Effect.map(MetadataService, (inner) =>
      MetadataService.of({
        ...inner,
        apply: (index, entry) =>
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
      }))
  ).pipe(Layer.provide(metadata))
