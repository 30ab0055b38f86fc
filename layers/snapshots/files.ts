/**
 * SnapshotStore in files, one per snapshot, in one directory:
 *
 *   snap-<index>-<term>.snap   a committed snapshot (both 16 hex digits, so names sort by index)
 *   snap-<n>.tmp               one being written: never readable, deleted when the store opens
 *
 * A writer appends to its tmp file; commit fdatasyncs it, renames it over the final name and
 * fsyncs the directory, so after a crash a snapshot is either whole under its name or absent.
 * A committed file is never written again: a later commit at its position replaces it whole
 * (rename), `retain` deletes it.
 *
 * A leader sends a snapshot in ~1 MiB chunks, a read each, so the store keeps the file of the
 * snapshot read last open rather than opening it per chunk. Concurrent reads (two followers
 * being caught up) share that handle; one displaced by another snapshot, or whose file was
 * replaced or deleted, is closed when the last read using it ends.
 */
import { Effect, Layer } from "effect"
import * as fs from "node:fs/promises"
import * as path from "node:path"
import { closeQuietly, io, syncDirectory, writeAllAt } from "../fileIo.ts"
import { IoError } from "../../src/domain/errors.ts"
import {
  type SnapshotFile,
  SnapshotStore,
  type SnapshotStoreShape,
  type SnapshotWriter
} from "../../src/services/SnapshotStore.ts"
import { badRead, isPosition } from "./arguments.ts"

export interface SnapshotStoreFilesOptions {
  readonly dir: string
}

const committedPattern = /^snap-([0-9a-f]{16})-([0-9a-f]{16})\.snap$/
const hex16 = (n: number) => n.toString(16).padStart(16, "0")
const committedName = (index: number, term: number) => `snap-${hex16(index)}-${hex16(term)}.snap`

const parseCommitted = (name: string): { readonly index: number; readonly term: number } | undefined => {
  const match = committedPattern.exec(name)
  if (match === null) return undefined
  const index = parseInt(match[1]!, 16)
  const term = parseInt(match[2]!, 16)
  return Number.isSafeInteger(index) && Number.isSafeInteger(term) ? { index, term } : undefined
}

/** Tmp names unique within the process; a new store deletes an earlier process's leftovers. */
let tmpCounter = 0

const unlinkQuietly = (file: string) => Effect.promise(() => fs.unlink(file).catch(() => undefined))

/** The file of a committed snapshot, open for reads; closed once retired and no read uses it. */
interface OpenSnapshot {
  readonly name: string
  readonly handle: fs.FileHandle
  readonly size: number
  users: number
  retired: boolean
}

/** Delete partial snapshots, then list the committed ones by index. */
const recover = (dir: string): Effect.Effect<ReadonlyArray<SnapshotFile>, IoError> =>
  Effect.gen(function*() {
    const created = yield* io("create directory", dir, () => fs.mkdir(dir, { recursive: true }))
    if (created !== undefined) yield* syncDirectory(path.dirname(path.resolve(dir)))
    const entries = yield* io("list", dir, () => fs.readdir(dir, { withFileTypes: true }))
    const files = entries.filter((entry) => entry.isFile()).map((entry) => entry.name)

    // Snapshots a crash interrupted: nothing will ever finish them.
    const partial = files.filter((name) => name.endsWith(".tmp"))
    for (const name of partial) {
      const file = path.join(dir, name)
      yield* io("remove", file, () => fs.unlink(file))
    }
    if (partial.length > 0) yield* syncDirectory(dir)

    const recovered: Array<SnapshotFile> = []
    for (const name of files) {
      const position = parseCommitted(name)
      if (position === undefined) continue
      const file = path.join(dir, name)
      const stat = yield* io("stat", file, () => fs.stat(file))
      recovered.push({ index: position.index, term: position.term, size: stat.size })
    }
    return recovered.sort((a, b) => a.index - b.index || a.term - b.term)
  })

const make = (options: SnapshotStoreFilesOptions) =>
  Effect.gen(function*() {
    const dir = options.dir
    const recovered = yield* recover(dir)

    let closed = false
    const closedError = () => new IoError({ message: `snapshot store ${dir} is closed`, path: dir })
    /** The abort of every writer neither committed nor aborted, run when the store closes. */
    const writers = new Set<Effect.Effect<void>>()
    let cached: OpenSnapshot | undefined
    // Bumped whenever a committed file is replaced or deleted: a handle opened across one may be stale.
    let epoch = 0

    const release = (entry: OpenSnapshot) =>
      entry.retired && entry.users === 0 ? closeQuietly(entry.handle) : Effect.void

    const retire = (entry: OpenSnapshot) =>
      Effect.suspend(() => {
        entry.retired = true
        if (cached === entry) cached = undefined
        return release(entry)
      })

    const retireName = (name: string) =>
      Effect.suspend(() => {
        epoch++
        return cached?.name === name ? retire(cached) : Effect.void
      })

    /** The open file `name`, counted as in use until released. */
    const acquire = (name: string, file: string): Effect.Effect<OpenSnapshot, IoError> =>
      Effect.suspend(() => {
        if (closed) return Effect.fail(closedError())
        const hit = cached
        if (hit !== undefined && hit.name === name) {
          hit.users++
          return Effect.succeed(hit)
        }
        const openedIn = epoch
        return Effect.gen(function*() {
          const handle = yield* io("open", file, () => fs.open(file, "r"))
          const stat = yield* io("stat", file, () => handle.stat()).pipe(Effect.tapError(() => closeQuietly(handle)))
          if (closed) {
            yield* closeQuietly(handle)
            return yield* closedError()
          }
          const entry: OpenSnapshot = { name, handle, size: stat.size, users: 1, retired: false }
          if (epoch !== openedIn) {
            // The file may have been replaced or deleted while opening: good for this read only.
            entry.retired = true
          } else {
            const previous = cached
            cached = entry
            if (previous !== undefined) yield* retire(previous)
          }
          return entry
        })
      })

    const readFrom = (entry: OpenSnapshot, file: string, snapshot: SnapshotFile, offset: number, count: number) =>
      Effect.suspend(() => {
        if (entry.size !== snapshot.size) {
          return Effect.fail(new IoError({
            message: `snapshot file ${file} has ${entry.size} bytes, not the ${snapshot.size} of the snapshot`,
            path: file
          }))
        }
        return io("read", file, async () => {
          const out = new Uint8Array(count)
          let done = 0
          while (done < count) {
            const { bytesRead } = await entry.handle.read(out, done, count - done, offset + done)
            if (bytesRead === 0) throw new Error(`the file ends at byte ${offset + done}, short of ${snapshot.size}`)
            done += bytesRead
          }
          return out
        })
      })

    const newWriter = (tmp: string, handle: fs.FileHandle): SnapshotWriter => {
      let state: "open" | "committed" | "aborted" = "open"
      let failure: IoError | undefined
      let size = 0
      // Calls are sequential by contract; the lock keeps misuse from interleaving them.
      const lock = Effect.unsafeMakeSemaphore(1)
      const discard = Effect.zipRight(closeQuietly(handle), unlinkQuietly(tmp))
      const finished = () =>
        failure ?? new IoError({ message: `snapshot writer ${tmp} was already ${state}`, path: tmp })

      // Each step runs to the end once started: a write or rename cannot be taken back halfway.
      const abort: Effect.Effect<void> = lock.withPermits(1)(Effect.uninterruptible(Effect.suspend(() => {
        if (state !== "open") return Effect.void
        state = "aborted"
        writers.delete(abort)
        return discard
      })))

      const write = (bytes: Uint8Array) =>
        lock.withPermits(1)(Effect.uninterruptible(Effect.suspend(() => {
          if (state !== "open" || failure !== undefined) return Effect.fail(finished())
          return writeAllAt(handle, tmp, bytes, size).pipe(
            Effect.tap(() => Effect.sync(() => { size += bytes.length })),
            // Part of the bytes may be in the file: the writer can only be aborted now.
            Effect.tapError((error) => Effect.sync(() => { failure = error }))
          )
        })))

      const commit = (index: number, term: number): Effect.Effect<SnapshotFile, IoError> =>
        Effect.suspend(() => {
          if (!isPosition(index) || !isPosition(term)) {
            return Effect.fail(new IoError({
              message: `a snapshot's index and term must be non-negative integers, got ${index} and ${term}`,
              path: tmp
            }))
          }
          return lock.withPermits(1)(Effect.uninterruptible(Effect.suspend(() => {
            if (state !== "open" || failure !== undefined) return Effect.fail(finished())
            state = "committed"
            writers.delete(abort)
            const name = committedName(index, term)
            const file = path.join(dir, name)
            const publish = Effect.gen(function*() {
              yield* io("fdatasync", tmp, () => handle.datasync())
              yield* io("close", tmp, () => handle.close())
              yield* io("rename", tmp, () => fs.rename(tmp, file))
            }).pipe(
              // Nothing was published: the partial file goes, and later calls get this error.
              Effect.tapError((error) => Effect.zipRight(Effect.sync(() => { failure = error }), discard))
            )
            return publish.pipe(
              Effect.zipRight(retireName(name)),
              Effect.zipRight(syncDirectory(dir)),
              Effect.as({ index, term, size })
            )
          })))
        })

      return { write, commit, abort }
    }

    const create: Effect.Effect<SnapshotWriter, IoError> = Effect.uninterruptible(Effect.suspend(() => {
      if (closed) return Effect.fail(closedError())
      const tmp = path.join(dir, `snap-${++tmpCounter}.tmp`)
      return io("create", tmp, () => fs.open(tmp, "wx")).pipe(
        Effect.flatMap((handle) => {
          const writer = newWriter(tmp, handle)
          if (closed) return Effect.zipRight(writer.abort, Effect.fail(closedError()))
          writers.add(writer.abort)
          return Effect.succeed(writer)
        })
      )
    }))

    const read = (snapshot: SnapshotFile, offset: number, length: number): Effect.Effect<Uint8Array, IoError> =>
      Effect.suspend(() => {
        const bad = badRead(snapshot, offset, length)
        if (bad !== undefined) return Effect.fail(new IoError({ message: bad, path: dir }))
        const name = committedName(snapshot.index, snapshot.term)
        const file = path.join(dir, name)
        const count = Math.min(length, snapshot.size - offset)
        return Effect.acquireUseRelease(
          acquire(name, file),
          (entry) => readFrom(entry, file, snapshot, offset, count),
          (entry) => Effect.suspend(() => {
            entry.users--
            return release(entry)
          })
        )
      })

    const retain = (keep: ReadonlyArray<SnapshotFile>): Effect.Effect<void, IoError> =>
      Effect.gen(function*() {
        if (closed) return yield* closedError()
        const wrong = keep.find((snapshot) => !isPosition(snapshot.index) || !isPosition(snapshot.term))
        if (wrong !== undefined) {
          return yield* new IoError({
            message: `cannot keep a snapshot at index ${wrong.index}, term ${wrong.term}: not a snapshot position`,
            path: dir
          })
        }
        const kept = new Set(keep.map((snapshot) => committedName(snapshot.index, snapshot.term)))
        const entries = yield* io("list", dir, () => fs.readdir(dir, { withFileTypes: true }))
        const doomed = entries
          .filter((entry) => entry.isFile() && parseCommitted(entry.name) !== undefined && !kept.has(entry.name))
          .map((entry) => entry.name)
        for (const name of doomed) {
          const file = path.join(dir, name)
          yield* retireName(name)
          yield* io("remove", file, () =>
            fs.unlink(file).catch((error: NodeJS.ErrnoException) => {
              if (error.code !== "ENOENT") throw error
            }))
        }
        if (doomed.length > 0) yield* syncDirectory(dir)
      })

    yield* Effect.addFinalizer(() =>
      Effect.suspend(() => {
        closed = true
        const open = cached
        return Effect.forEach([...writers], (abort) => abort, { discard: true }).pipe(
          Effect.zipRight(open === undefined ? Effect.void : retire(open))
        )
      })
    )

    const service: SnapshotStoreShape = { recovered, create, read, retain }
    return service
  })

export const SnapshotStoreFiles = (options: SnapshotStoreFilesOptions): Layer.Layer<SnapshotStore, IoError> =>
  Layer.scoped(SnapshotStore, make(options))
