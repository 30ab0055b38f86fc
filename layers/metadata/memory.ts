/** MetadataService on memory-level: the same state machine, for tests and simulation. */
import { Effect, Layer } from "effect"
import { MemoryLevel } from "memory-level"
import { MetadataService } from "../../src/services/MetadataService.ts"
import { makeNamespace, type NamespaceOptions } from "./namespace.ts"
import { type LevelDatabase, makeStore } from "./store.ts"

/** An open in-memory database for the life of the scope. */
export const openMemoryLevel = Effect.acquireRelease(
  Effect.promise(async (): Promise<LevelDatabase> => {
    const db = new MemoryLevel<Buffer, Buffer>({ keyEncoding: "buffer", valueEncoding: "buffer" })
    await db.open()
    return db
  }),
  (db) => Effect.tryPromise(() => db.close()).pipe(Effect.ignore)
)

/** The state machine over a fresh in-memory store (an in-memory store cannot fail to open). */
export const makeMemoryNamespace = (options: NamespaceOptions) =>
  Effect.flatMap(openMemoryLevel, (db) => makeNamespace(makeStore(db, { sync: false }), options)).pipe(Effect.orDie)

export const MetadataServiceMemory = (options: { readonly chunkSize: number }): Layer.Layer<MetadataService> =>
  Layer.scoped(MetadataService, makeMemoryNamespace(options))
