/**
 * MetadataService on classic-level (LevelDB): the node's durable metadata state machine.
 * Batches are written without fsync by default: LevelDB has handed them to the OS when the
 * write returns, so they survive `kill -9`; the Raft WAL, replayed from the stored applied
 * index, covers a machine crash. `sync: true` fsyncs every applied entry instead.
 */
import { Effect, Layer } from "effect"
import { ClassicLevel } from "classic-level"
import { IoError } from "../../src/domain/errors.ts"
import { MetadataService, type StoreError } from "../../src/services/MetadataService.ts"
import { makeNamespace } from "./namespace.ts"
import { type LevelDatabase, makeStore } from "./store.ts"

export interface ClassicLevelOptions {
  /** Directory of the LevelDB database (created if missing). */
  readonly path: string
  readonly chunkSize: number
  readonly sync?: boolean
}

const describe = (cause: unknown): string => (cause instanceof Error ? cause.message : String(cause))

/** Open the database for the life of the scope. */
export const openClassicLevel = (path: string) =>
  Effect.acquireRelease(
    Effect.tryPromise({
      try: async (): Promise<LevelDatabase> => {
        const db = new ClassicLevel<Buffer, Buffer>(path, { keyEncoding: "buffer", valueEncoding: "buffer" })
        await db.open()
        return db
      },
      catch: (cause) => new IoError({ message: `cannot open metadata store: ${describe(cause)}`, path })
    }),
    (db) => Effect.tryPromise(() => db.close()).pipe(Effect.ignore)
  )

export const MetadataServiceClassicLevel = (options: ClassicLevelOptions): Layer.Layer<MetadataService, StoreError> =>
  Layer.scoped(
    MetadataService,
    Effect.flatMap(openClassicLevel(options.path), (db) =>
      makeNamespace(makeStore(db, { sync: options.sync ?? false }), { chunkSize: options.chunkSize }))
  )
