/**
 * File operations the on-disk layers share (the WAL's segments, the snapshot files): each
 * failure an IoError naming the operation and the file, and the steps that make a file's
 * creation or rename durable.
 */
import { Effect } from "effect"
import * as fs from "node:fs/promises"
import { IoError } from "../src/domain/errors.ts"

export const ioError = (what: string, file: string, cause: unknown) =>
  new IoError({ message: `${what} ${file}: ${cause instanceof Error ? cause.message : String(cause)}`, path: file })

export const io = <A>(what: string, file: string, run: () => Promise<A>): Effect.Effect<A, IoError> =>
  Effect.tryPromise({ try: run, catch: (cause) => ioError(what, file, cause) })

export const closeQuietly = (handle: fs.FileHandle) => Effect.promise(() => handle.close().catch(() => undefined))

/** fsync a directory, making file creations, renames and deletions in it durable. */
export const syncDirectory = (dir: string) =>
  Effect.acquireUseRelease(
    io("open directory", dir, () => fs.open(dir, "r")),
    (handle) => io("fsync directory", dir, () => handle.sync()),
    closeQuietly
  )

/** All of `bytes` written at `position` (a write may take only part of them). */
export const writeAllAt = (handle: fs.FileHandle, file: string, bytes: Uint8Array, position: number) =>
  io("write", file, async () => {
    let written = 0
    while (written < bytes.length) {
      const { bytesWritten } = await handle.write(bytes, written, bytes.length - written, position + written)
      written += bytesWritten
    }
  })
