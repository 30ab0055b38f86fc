/**
 * node:fs calls as Effects, for the chunk store, each failure an IoError naming the operation
 * and the path (or, where the caller looks at the code first, the raw error).
 *
 * Calls that only touch the page cache or a directory entry (open, close, rename, unlink, and
 * reads and writes of up to SYNC_IO_BYTES) run synchronously on the event loop: they take
 * microseconds there, while the same call through libuv's thread pool costs two event-loop
 * hand-offs, which on a busy node are most of a small write's latency (a 4 KiB overwrite staged
 * its patch in ~8 ms, nearly all of it waiting to be picked up again). fsync, larger transfers
 * and directory listings wait on the disk and go through the thread pool.
 */
import * as NodeFs from "node:fs"
import { Effect, Option, type Scope } from "effect"
import { IoError } from "../../src/domain/errors.ts"
import { unfilledBytes } from "../../src/lib/unfilledBytes.ts"

type Errno = NodeJS.ErrnoException

/** A node:fs callback call as an Effect; the raw error is kept so callers can look at `code`. */
const nodeFs = <A>(run: (done: (error: Errno | null, value: A) => void) => void): Effect.Effect<A, Errno> =>
  Effect.async<A, Errno>((resume) => {
    run((error, value) => resume(error ? Effect.fail(error) : Effect.succeed(value)))
  })

export const ioError = (operation: string, path: string) => (error: Errno): IoError =>
  new IoError({ message: `${operation} ${path} failed: ${error.code ?? error.message}`, path })

/** A synchronous node:fs call as an Effect, the raw error kept as `nodeFs` keeps it. */
const nodeFsNow = <A>(run: () => A): Effect.Effect<A, Errno> =>
  Effect.try({ try: run, catch: (error) => error as Errno })

/** Reads and writes up to this size run synchronously (see the header). */
export const SYNC_IO_BYTES = 256 * 1024

const isMissing = (error: Errno): boolean => error.code === "ENOENT"

const openFd = (path: string, flags: string): Effect.Effect<number, Errno> => nodeFsNow(() => NodeFs.openSync(path, flags))

// A failed close cannot lose data here: writers fsync before closing, readers have their bytes.
const closeFd = (fd: number): Effect.Effect<void> => Effect.ignore(nodeFsNow(() => NodeFs.closeSync(fd)))

export const openScoped = (path: string, flags: string): Effect.Effect<number, IoError, Scope.Scope> =>
  Effect.acquireRelease(openFd(path, flags).pipe(Effect.mapError(ioError("open", path))), closeFd)

export const openForReadIfExists = (path: string): Effect.Effect<Option.Option<number>, IoError, Scope.Scope> =>
  Effect.acquireRelease(
    openFd(path, "r").pipe(
      Effect.map(Option.some),
      Effect.catchIf(isMissing, () => Effect.succeedNone),
      Effect.mapError(ioError("open", path))
    ),
    Option.match({ onNone: () => Effect.void, onSome: closeFd })
  )

/** Up to `length` bytes at `position`; fewer only at end of file. */
export const readAt = (path: string, fd: number, length: number, position: number): Effect.Effect<Uint8Array, IoError> =>
  Effect.gen(function*() {
    // What the read does not fill is cut off below, never returned.
    const buffer = unfilledBytes(length)
    let filled = 0
    const now = length <= SYNC_IO_BYTES
    while (filled < length) {
      const n = yield* (now
        ? nodeFsNow(() => NodeFs.readSync(fd, buffer, filled, length - filled, position + filled))
        : nodeFs<number>((done) => NodeFs.read(fd, buffer, filled, length - filled, position + filled, done)))
        .pipe(Effect.mapError(ioError("read", path)))
      if (n === 0) break
      filled += n
    }
    return buffer.subarray(0, filled)
  })

/** All of `parts`, one after the other from `position`, in as few calls as the kernel allows. */
export const writeAllAt = (path: string, fd: number, parts: ReadonlyArray<Uint8Array>, position: number): Effect.Effect<void, IoError> =>
  Effect.gen(function*() {
    let pending = parts.filter((part) => part.length > 0)
    let at = position
    const now = pending.reduce((sum, part) => sum + part.length, 0) <= SYNC_IO_BYTES
    while (pending.length > 0) {
      const from = at
      let written = yield* (now
        ? nodeFsNow(() => NodeFs.writevSync(fd, pending as Array<Uint8Array>, from))
        : nodeFs<number>((done) => NodeFs.writev(fd, pending as Array<Uint8Array>, from, done)))
        .pipe(Effect.mapError(ioError("write", path)))
      at += written
      // A short write: drop what was written, keep the rest.
      const rest: Array<Uint8Array> = []
      for (const part of pending) {
        if (written >= part.length) written -= part.length
        else {
          rest.push(part.subarray(written))
          written = 0
        }
      }
      pending = rest
    }
  })

export const fsyncFd = (path: string, fd: number): Effect.Effect<void, IoError> =>
  nodeFs<void>((done) => NodeFs.fsync(fd, (error) => done(error, undefined))).pipe(
    Effect.mapError(ioError("fsync", path))
  )

/** Makes the directory's entries (creations, renames, removals) durable. */
export const fsyncDir = (path: string): Effect.Effect<void, IoError> =>
  Effect.scoped(Effect.flatMap(openScoped(path, "r"), (fd) => fsyncFd(path, fd)))

export const rename = (from: string, to: string): Effect.Effect<void, Errno> => nodeFsNow(() => NodeFs.renameSync(from, to))

export const renameIfExists = (from: string, to: string): Effect.Effect<boolean, IoError> =>
  rename(from, to).pipe(
    Effect.as(true),
    Effect.catchIf(isMissing, () => Effect.succeed(false)),
    Effect.mapError(ioError("rename", from))
  )

export const unlinkIfExists = (path: string): Effect.Effect<boolean, IoError> =>
  nodeFsNow(() => NodeFs.unlinkSync(path)).pipe(
    Effect.as(true),
    Effect.catchIf(isMissing, () => Effect.succeed(false)),
    Effect.mapError(ioError("unlink", path))
  )

export const readDir = (path: string): Effect.Effect<ReadonlyArray<string>, IoError> =>
  nodeFs<Array<string>>((done) => NodeFs.readdir(path, done)).pipe(Effect.mapError(ioError("readdir", path)))

export const makeDir = (path: string): Effect.Effect<void, IoError> =>
  nodeFs<string | undefined>((done) => NodeFs.mkdir(path, { recursive: true }, done)).pipe(
    Effect.asVoid,
    Effect.mapError(ioError("mkdir", path))
  )

