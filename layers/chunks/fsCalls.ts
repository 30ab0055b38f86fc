/**
 * node:fs calls for the chunk store, each failure an IoError naming the operation and the path.
 *
 * Calls that only touch the page cache or a directory entry (open, close, rename, unlink, and
 * reads and writes of up to SYNC_IO_BYTES) run synchronously on the event loop: they take
 * microseconds there, while the same call through libuv's thread pool costs two event-loop
 * hand-offs, which on a busy node are most of a small write's latency (a 4 KiB overwrite staged
 * its patch in ~8 ms, nearly all of it waiting to be picked up again). fsync, larger transfers
 * and directory listings wait on the disk and go through the thread pool.
 *
 * The synchronous calls come as plain functions (`…Now`) that throw their IoError, so the store
 * runs a whole sequence of them as one Effect (`runNow`): an Effect per call cost a 4 KiB patch
 * about 300 Effect operations, more CPU than its system calls.
 */
import * as NodeFs from "node:fs"
import { Effect, type Scope } from "effect"
import { Corruption, InvalidArgument, IoError, NotFound } from "../../src/domain/errors.ts"
import { unfilledBytes } from "../../src/lib/unfilledBytes.ts"
import type { FilePool } from "./filePool.ts"

type Errno = NodeJS.ErrnoException

/** What the store's synchronous code may throw as a failure; anything else it throws is a defect. */
export type StoreError = IoError | Corruption | NotFound | InvalidArgument

const isStoreError = (error: unknown): error is StoreError =>
  error instanceof IoError || error instanceof Corruption || error instanceof NotFound || error instanceof InvalidArgument

/**
 * Synchronous store code as one Effect: a thrown StoreError fails it, anything else dies. `E`
 * names the errors `run` may throw (the type system cannot see throws).
 */
export const runNow = <A, E extends StoreError = StoreError>(run: () => A): Effect.Effect<A, E> =>
  Effect.suspend(() => {
    try {
      return Effect.succeed(run())
    } catch (error) {
      return isStoreError(error) ? Effect.fail(error as E) : Effect.die(error)
    }
  })

/** A node:fs callback call as an Effect; the raw error is kept so callers can look at `code`. */
const nodeFs = <A>(run: (done: (error: Errno | null, value: A) => void) => void): Effect.Effect<A, Errno> =>
  Effect.async<A, Errno>((resume) => {
    run((error, value) => resume(error ? Effect.fail(error) : Effect.succeed(value)))
  })

const ioError = (operation: string, path: string) => (error: Errno): IoError =>
  new IoError({ message: `${operation} ${path} failed: ${error.code ?? error.message}`, path })

/** `run`, its error (a node:fs one) thrown as the IoError of `operation` on `path`. */
const io = <A>(operation: string, path: string, run: () => A): A => {
  try {
    return run()
  } catch (error) {
    throw ioError(operation, path)(error as Errno)
  }
}

/** Reads and writes up to this size run synchronously (see the header). */
export const SYNC_IO_BYTES = 256 * 1024

const isMissing = (error: unknown): boolean => (error as Errno | null)?.code === "ENOENT"

const openNow = (path: string, flags: string): number => io("open", path, () => NodeFs.openSync(path, flags))

/** `run`'s result, or `missing` when the file is not there; any other error thrown as the IoError of `operation`. */
const unlessMissing = <A, B>(operation: string, path: string, run: () => A, missing: B): A | B => {
  try {
    return run()
  } catch (error) {
    if (isMissing(error)) return missing
    throw ioError(operation, path)(error as Errno)
  }
}

/** Undefined when there is no such file. */
export const openForReadIfExistsNow = (path: string): number | undefined =>
  unlessMissing("open", path, () => NodeFs.openSync(path, "r"), undefined)

// A failed close cannot lose data here: writers fsync before closing, readers have their bytes.
export const closeNow = (fd: number): void => {
  try {
    NodeFs.closeSync(fd)
  } catch {
    // see above
  }
}

const closeFd = (fd: number): Effect.Effect<void> => Effect.sync(() => closeNow(fd))

export const openScoped = (path: string, flags: string): Effect.Effect<number, IoError, Scope.Scope> =>
  Effect.acquireRelease(runNow<number, IoError>(() => openNow(path, flags)), closeFd)

/** Up to `length` bytes at `position`, read synchronously; fewer only at end of file. */
export const readAtNow = (path: string, fd: number, length: number, position: number): Uint8Array => {
  // What the read does not fill is cut off below, never returned.
  const buffer = unfilledBytes(length)
  let filled = 0
  while (filled < length) {
    const n = io("read", path, () => NodeFs.readSync(fd, buffer, filled, length - filled, position + filled))
    if (n === 0) break
    filled += n
  }
  return buffer.subarray(0, filled)
}

/** Up to `length` bytes at `position`; fewer only at end of file. Large reads go through the thread pool. */
export const readAt = (path: string, fd: number, length: number, position: number): Effect.Effect<Uint8Array, IoError> =>
  length <= SYNC_IO_BYTES
    ? runNow<Uint8Array, IoError>(() => readAtNow(path, fd, length, position))
    : Effect.gen(function*() {
      const buffer = unfilledBytes(length)
      let filled = 0
      while (filled < length) {
        const n = yield* nodeFs<number>((done) => NodeFs.read(fd, buffer, filled, length - filled, position + filled, done))
          .pipe(Effect.mapError(ioError("read", path)))
        if (n === 0) break
        filled += n
      }
      return buffer.subarray(0, filled)
    })

/** What of `parts` is left after `written` more bytes of them went out (a short write). */
const unwritten = (parts: ReadonlyArray<Uint8Array>, written: number): Array<Uint8Array> => {
  const rest: Array<Uint8Array> = []
  for (const part of parts) {
    if (written >= part.length) written -= part.length
    else {
      rest.push(part.subarray(written))
      written = 0
    }
  }
  return rest
}

const byteLength = (parts: ReadonlyArray<Uint8Array>): number => parts.reduce((sum, part) => sum + part.length, 0)

/** All of `parts`, one after the other from `position`, synchronously, in as few calls as the kernel allows. */
const writeAllAtNow = (path: string, fd: number, parts: ReadonlyArray<Uint8Array>, position: number): void => {
  let pending = parts.filter((part) => part.length > 0)
  let at = position
  while (pending.length > 0) {
    const from = at
    const written = io("write", path, () => NodeFs.writevSync(fd, pending as Array<Uint8Array>, from))
    at += written
    pending = unwritten(pending, written)
  }
}

/** All of `parts`, one after the other from `position`, in as few calls as the kernel allows. */
const writeAllAt = (path: string, fd: number, parts: ReadonlyArray<Uint8Array>, position: number): Effect.Effect<void, IoError> =>
  byteLength(parts) <= SYNC_IO_BYTES
    ? runNow<void, IoError>(() => writeAllAtNow(path, fd, parts, position))
    : Effect.gen(function*() {
      let pending = parts.filter((part) => part.length > 0)
      let at = position
      while (pending.length > 0) {
        const from = at
        const written = yield* nodeFs<number>((done) => NodeFs.writev(fd, pending as Array<Uint8Array>, from, done))
          .pipe(Effect.mapError(ioError("write", path)))
        at += written
        pending = unwritten(pending, written)
      }
    })

const truncateNow = (path: string, fd: number, length: number): void =>
  io("truncate", path, () => NodeFs.ftruncateSync(fd, length))

export const fsyncFd = (path: string, fd: number): Effect.Effect<void, IoError> =>
  nodeFs<void>((done) => NodeFs.fsync(fd, (error) => done(error, undefined))).pipe(
    Effect.mapError(ioError("fsync", path))
  )

/**
 * `parts` as the new file `final`: written to `temp` (which must not exist; a file from `pool`
 * when it has one), fsynced, closed and renamed into place over any file of that name. A failure
 * removes `temp`. The directory is not synced: the caller does that, once for everything it
 * changed there.
 */
export const writeFileDurably = (
  temp: string,
  final: string,
  parts: ReadonlyArray<Uint8Array>,
  pool?: FilePool
): Effect.Effect<void, IoError> =>
  Effect.suspend(() => {
    // A pooled file is written over and cut to length: no inode is allocated (filePool.ts).
    const reused = pool?.takeNow(temp) === true
    let fd: number
    try {
      fd = openNow(temp, reused ? "r+" : "wx")
    } catch (error) {
      if (reused) unlinkQuietly(temp)
      return Effect.fail(error as IoError)
    }
    // Closed exactly once: a number closed twice may by then be another file's.
    let open = true
    const close = () => {
      if (open) closeNow(fd)
      open = false
    }
    return writeAllAt(temp, fd, parts, 0).pipe(
      Effect.zipRight(reused ? runNow<void, IoError>(() => truncateNow(temp, fd, byteLength(parts))) : Effect.void),
      Effect.zipRight(fsyncFd(temp, fd)),
      Effect.flatMap(() =>
        runNow<void, IoError>(() => {
          close()
          io("rename", temp, () => NodeFs.renameSync(temp, final))
        })
      ),
      Effect.onError(() =>
        Effect.sync(() => {
          close()
          unlinkQuietly(temp)
        })
      )
    )
  })

/** Makes the directory's entries (creations, renames, removals) durable. */
export const fsyncDir = (path: string): Effect.Effect<void, IoError> =>
  Effect.scoped(Effect.flatMap(openScoped(path, "r"), (fd) => fsyncFd(path, fd)))

/** Whether `from` existed (and is now `to`). */
export const renameIfExistsNow = (from: string, to: string): boolean =>
  unlessMissing("rename", from, () => {
    NodeFs.renameSync(from, to)
    return true
  }, false)

/** Whether `path` existed (and is now gone). */
export const unlinkIfExistsNow = (path: string): boolean =>
  unlessMissing("unlink", path, () => {
    NodeFs.unlinkSync(path)
    return true
  }, false)

const unlinkQuietly = (path: string): void => {
  try {
    NodeFs.unlinkSync(path)
  } catch {
    // A leftover temp file is removed when the store next opens.
  }
}

export const unlinkIfExists = (path: string): Effect.Effect<boolean, IoError> =>
  runNow<boolean, IoError>(() => unlinkIfExistsNow(path))

export const readDir = (path: string): Effect.Effect<ReadonlyArray<string>, IoError> =>
  nodeFs<Array<string>>((done) => NodeFs.readdir(path, done)).pipe(Effect.mapError(ioError("readdir", path)))

export const makeDir = (path: string): Effect.Effect<void, IoError> =>
  nodeFs<string | undefined>((done) => NodeFs.mkdir(path, { recursive: true }, done)).pipe(
    Effect.asVoid,
    Effect.mapError(ioError("mkdir", path))
  )
