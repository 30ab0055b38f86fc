/**
 * SDK errors as node:fs errors: an `Error` with `code`, `errno`, `syscall` and `path`, and the
 * typed Sandstore error as `cause`, so code written against node:fs/promises handles them as is.
 */
import { Cause } from "effect"
import { constants } from "node:os"
import type { ClientError } from "./errors.ts"

export interface SandstoreFsError extends Error {
  /** ENOENT, EEXIST, ENOTDIR, EISDIR, ENOTEMPTY, EACCES, EINVAL, EBADF, EAGAIN, ... */
  readonly code: string
  /** negative errno, as node reports it, when the code is a POSIX one */
  readonly errno: number | undefined
  readonly syscall: string
  readonly path: string | undefined
  readonly dest: string | undefined
  readonly cause: ClientError
}

export interface Call {
  readonly syscall: string
  readonly path?: string | undefined
  readonly dest?: string | undefined
}

const errnos = constants.errno as Record<string, number | undefined>

export const toNodeError = (error: ClientError, call: Call): SandstoreFsError => {
  const code = error.code
  const path = call.path ?? ("path" in error ? error.path : undefined)
  const where = path === undefined ? "" : call.dest === undefined ? ` '${path}'` : ` '${path}' -> '${call.dest}'`
  const errno = errnos[code]
  return Object.assign(new Error(`${code}: ${error.message}, ${call.syscall}${where}`, { cause: error }), {
    code,
    errno: errno === undefined ? undefined : -errno,
    syscall: call.syscall,
    path,
    dest: call.dest,
    cause: error
  })
}

/** The error a failed call rejects with: the typed failure translated, a defect or interruption as is. */
export const fromCause = (cause: Cause.Cause<ClientError>, call: Call): unknown => {
  const failure = Cause.failureOption(cause)
  return failure._tag === "Some" ? toNodeError(failure.value, call) : Cause.squash(cause)
}
