/**
 * node:fs callback calls as Effects, for the chunk store: no promise wrapper per call on the
 * data path, and each failure an IoError naming the operation and the path (or, where the
 * caller looks at the code first, the raw error).
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

const isMissing = (error: Errno): boolean => error.code === "ENOENT"

const openFd = (path: string, flags: string): Effect.Effect<number, Errno> =>
  nodeFs<number>((done) => NodeFs.open(path, flags, done))

// A failed close cannot lose data here: writers fsync before closing, readers have their bytes.
const closeFd = (fd: number): Effect.Effect<void> =>
  Effect.ignore(nodeFs<void>((done) => NodeFs.close(fd, (error) => done(error, undefined))))

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
    while (filled < length) {
      const n = yield* nodeFs<number>((done) => NodeFs.read(fd, buffer, filled, length - filled, position + filled, done))
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
    while (pending.length > 0) {
      let written = yield* nodeFs<number>((done) => NodeFs.writev(fd, pending as Array<Uint8Array>, at, done))
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

export const rename = (from: string, to: string): Effect.Effect<void, Errno> =>
  nodeFs<void>((done) => NodeFs.rename(from, to, (error) => done(error, undefined)))

export const renameIfExists = (from: string, to: string): Effect.Effect<boolean, IoError> =>
  rename(from, to).pipe(
    Effect.as(true),
    Effect.catchIf(isMissing, () => Effect.succeed(false)),
    Effect.mapError(ioError("rename", from))
  )

export const unlinkIfExists = (path: string): Effect.Effect<boolean, IoError> =>
  nodeFs<void>((done) => NodeFs.unlink(path, (error) => done(error, undefined))).pipe(
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

