/**
 * SnapshotStore on a simulated disk, for tests and the whole-cluster simulation: no file
 * system, no time. The disk (committed snapshots by position) outlives any store opened on
 * it: building `layer` again is the node restarting, which finds every committed snapshot in
 * `recovered` and none of the partial ones, as after a crash. A commit is durable at once.
 *
 * Opening the store again also cuts off the one opened before (its operations fail with
 * IoError), since a crashed process can no longer write, as the simulated WAL does.
 */
import { Effect, Layer } from "effect"
import { IoError } from "../../src/domain/errors.ts"
import { concatBytes } from "../../src/lib/concatBytes.ts"
import {
  type SnapshotFile,
  SnapshotStore,
  type SnapshotStoreShape,
  type SnapshotWriter
} from "../../src/services/SnapshotStore.ts"
import { badRead, isPosition } from "./arguments.ts"

export interface SimulatedSnapshots {
  /** Open the store on this disk: a node booting. */
  readonly layer: Layer.Layer<SnapshotStore>
  /** committed snapshots now on the disk */
  readonly files: () => ReadonlyArray<SnapshotFile>
}

const DISK_NAME = "simulated-snapshots"
const pathOf = (index: number, term: number) => `${DISK_NAME}/snap-${index}-${term}`
const keyOf = (index: number, term: number) => `${index}/${term}`

interface Stored {
  readonly file: SnapshotFile
  readonly bytes: Uint8Array
}

export const makeSimulatedSnapshots: Effect.Effect<SimulatedSnapshots> = Effect.sync(() => {
  const disk = new Map<string, Stored>()
  // Bumped by every open: a store opened before it has lost the disk.
  let generation = 0

  const files = () =>
    [...disk.values()].map((stored) => stored.file).sort((a, b) => a.index - b.index || a.term - b.term)

  const open = Effect.gen(function*() {
    const mine = ++generation
    let closed = false
    /** The abort of every writer neither committed nor aborted. */
    const writers = new Set<() => void>()

    const unavailable = (): IoError | undefined =>
      closed
        ? new IoError({ message: "the snapshot store is closed", path: DISK_NAME })
        : mine !== generation
        ? new IoError({ message: "the snapshot store's disk was opened again (its node restarted)", path: DISK_NAME })
        : undefined

    yield* Effect.addFinalizer(() =>
      Effect.sync(() => {
        closed = true
        for (const abort of [...writers]) abort()
      })
    )

    const newWriter = (): SnapshotWriter => {
      let state: "open" | "committed" | "aborted" = "open"
      let chunks: Array<Uint8Array> = []
      let size = 0
      const drop = () => {
        state = "aborted"
        chunks = []
        writers.delete(drop)
      }
      writers.add(drop)
      const refuse = () =>
        unavailable() ?? (state === "open"
          ? undefined
          : new IoError({ message: `this snapshot writer was already ${state}`, path: DISK_NAME }))

      return {
        write: (bytes) =>
          Effect.suspend(() => {
            const error = refuse()
            if (error !== undefined) return Effect.fail(error)
            // A copy: the caller may reuse its buffer once this returns.
            if (bytes.length > 0) chunks.push(bytes.slice())
            size += bytes.length
            return Effect.void
          }),
        commit: (index, term) =>
          Effect.suspend(() => {
            if (!isPosition(index) || !isPosition(term)) {
              return Effect.fail(new IoError({
                message: `a snapshot's index and term must be non-negative integers, got ${index} and ${term}`,
                path: DISK_NAME
              }))
            }
            const error = refuse()
            if (error !== undefined) return Effect.fail(error)
            const file: SnapshotFile = { index, term, size }
            disk.set(keyOf(index, term), { file, bytes: concatBytes(chunks, size) })
            state = "committed"
            chunks = []
            writers.delete(drop)
            return Effect.succeed(file)
          }),
        abort: Effect.sync(() => {
          if (state === "open") drop()
        })
      }
    }

    const service: SnapshotStoreShape = {
      recovered: files(),
      create: Effect.suspend(() => {
        const error = unavailable()
        return error !== undefined ? Effect.fail(error) : Effect.succeed(newWriter())
      }),
      read: (snapshot, offset, length) =>
        Effect.suspend(() => {
          const bad = badRead(snapshot, offset, length)
          if (bad !== undefined) return Effect.fail(new IoError({ message: bad, path: DISK_NAME }))
          const error = unavailable()
          if (error !== undefined) return Effect.fail(error)
          const where = pathOf(snapshot.index, snapshot.term)
          const stored = disk.get(keyOf(snapshot.index, snapshot.term))
          if (stored === undefined) {
            return Effect.fail(new IoError({ message: `snapshot ${where} does not exist`, path: where }))
          }
          if (stored.bytes.length !== snapshot.size) {
            return Effect.fail(new IoError({
              message: `snapshot ${where} has ${stored.bytes.length} bytes, not the ${snapshot.size} of the snapshot`,
              path: where
            }))
          }
          const count = Math.min(length, snapshot.size - offset)
          return Effect.succeed(stored.bytes.slice(offset, offset + count))
        }),
      retain: (keep) =>
        Effect.suspend(() => {
          const error = unavailable()
          if (error !== undefined) return Effect.fail(error)
          const wrong = keep.find((snapshot) => !isPosition(snapshot.index) || !isPosition(snapshot.term))
          if (wrong !== undefined) {
            return Effect.fail(new IoError({
              message: `cannot keep a snapshot at index ${wrong.index}, term ${wrong.term}: not a snapshot position`,
              path: DISK_NAME
            }))
          }
          const kept = new Set(keep.map((snapshot) => keyOf(snapshot.index, snapshot.term)))
          for (const key of [...disk.keys()]) if (!kept.has(key)) disk.delete(key)
          return Effect.void
        })
    }
    return service
  })

  return { layer: Layer.scoped(SnapshotStore, open), files } satisfies SimulatedSnapshots
})

/** A store on a fresh simulated disk of its own. */
export const SnapshotStoreMemory: Layer.Layer<SnapshotStore> = Layer.unwrapEffect(
  Effect.map(makeSimulatedSnapshots, (simulated) => simulated.layer)
)
