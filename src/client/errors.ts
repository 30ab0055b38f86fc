/**
 * Errors the SDK adds to the domain's: a closed file handle, and the translation of transport
 * failures into the domain's `Unavailable`, so callers only ever see typed Sandstore errors.
 */
import type { RpcClientError } from "@effect/rpc"
import { Schema } from "effect"
import {
  AlreadyExists, Busy, Conflict, Corruption, InvalidArgument, IoError, IsADirectory, NotADirectory, NotEmpty,
  NotFound, PermissionDenied, RequestIdReused, type SandstoreError, SessionExpired, Timeout, Unavailable
} from "../domain/errors.ts"

/** An operation on a file handle that is closed, or not open for that kind of access. */
export class BadFileDescriptor extends Schema.TaggedError<BadFileDescriptor>()("BadFileDescriptor", {
  message: Schema.String,
  path: Schema.optional(Schema.String)
}) {
  get code() { return "EBADF" as const }
}

/** Everything an SDK call can fail with. */
export type ClientError = SandstoreError | BadFileDescriptor

/** A transport failure that outlived its retries: the node could not be reached. */
export const unreachable = (address: string, error: RpcClientError.RpcClientError): Unavailable =>
  new Unavailable({ message: `cannot reach ${address}: ${error.message}${describeCause(error.cause)}` })

/** The innermost message of a transport failure (e.g. "connect ECONNREFUSED 127.0.0.1:1"). */
const describeCause = (cause: unknown): string => {
  let current = cause
  for (let depth = 0; depth < 5 && current instanceof Error && current.cause !== undefined; depth++) {
    current = current.cause
  }
  return current instanceof Error && current !== cause ? ` (${current.message})` : ""
}

const withPathConstructors = {
  NotFound, AlreadyExists, NotADirectory, IsADirectory, NotEmpty, PermissionDenied, InvalidArgument, Conflict,
  Unavailable, Busy, Timeout, IoError, Corruption, SessionExpired, RequestIdReused, BadFileDescriptor
} as const

/**
 * The same error naming `path`, the path the caller passed, as node's fs errors do (a node may
 * only know an inode or a single component). NotLeader has no path and passes through.
 */
export const withPath = (path: string) => <E extends ClientError>(error: E): E => {
  if (error._tag === "NotLeader" || error.path === path) return error
  const Constructor = withPathConstructors[error._tag] as unknown as new(fields: object) => E
  return new Constructor({ ...error, message: error.message, path })
}
