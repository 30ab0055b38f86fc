/**
 * Typed errors. Every error that can cross the wire is a `Schema.TaggedError`, so a client
 * tells `NotFound` from `NotLeader` exactly as code in the node does. `code` is the POSIX-style
 * name the CLI prints.
 */
import { Schema } from "effect"

const base = { message: Schema.String, path: Schema.optional(Schema.String) }

/**
 * `Schema.TaggedError`, for errors that are outcomes a caller handles (a missing name, a lost
 * race, a node that is not the leader) rather than faults to trace: built without a stack
 * trace. Capturing one walks ~10 frames of the Effect runtime that say nothing about the
 * outcome, and was most of the ~7 µs one cost (the simulation builds thousands a second).
 * Nor are its fields validated again (about half a percent of a simulation's CPU).
 * Corruption and IoError keep theirs.
 */
const Outcome = <Self>() =>
<Tag extends string, Fields extends Schema.Struct.Fields>(tag: Tag, fields: Fields) => {
  const Base = Schema.TaggedError<Self>()(tag, fields)
  // A class expression typed as its base: every static and instance member is the base's.
  const WithoutStack = class extends (Base as new(...args: ReadonlyArray<any>) => object) {
    constructor(...args: ReadonlyArray<any>) {
      const limit = Error.stackTraceLimit
      Error.stackTraceLimit = 0
      try {
        // Not validated against the fields again: the compiler checked them where it was built,
        // and one decoded from the wire went through the Schema (which builds it unvalidated too).
        super(args[0], args[1] ?? true)
      } finally {
        Error.stackTraceLimit = limit
      }
    }
  }
  return WithoutStack as unknown as typeof Base
}

export class NotFound extends Outcome<NotFound>()("NotFound", base) {
  get code() { return "ENOENT" as const }
}
export class AlreadyExists extends Outcome<AlreadyExists>()("AlreadyExists", base) {
  get code() { return "EEXIST" as const }
}
export class NotADirectory extends Outcome<NotADirectory>()("NotADirectory", base) {
  get code() { return "ENOTDIR" as const }
}
export class IsADirectory extends Outcome<IsADirectory>()("IsADirectory", base) {
  get code() { return "EISDIR" as const }
}
export class NotEmpty extends Outcome<NotEmpty>()("NotEmpty", base) {
  get code() { return "ENOTEMPTY" as const }
}
export class PermissionDenied extends Outcome<PermissionDenied>()("PermissionDenied", base) {
  get code() { return "EACCES" as const }
}
export class InvalidArgument extends Outcome<InvalidArgument>()("InvalidArgument", base) {
  get code() { return "EINVAL" as const }
}
/** A chunk version condition failed at commit: another writer committed first. Retryable. */
export class Conflict extends Outcome<Conflict>()("Conflict", base) {
  get code() { return "ESTALE" as const }
}
/** This node is not the leader; `leaderId`/`address` name the leader when known. */
export class NotLeader extends Outcome<NotLeader>()("NotLeader", {
  message: Schema.String,
  leaderId: Schema.NullOr(Schema.String),
  address: Schema.NullOr(Schema.String)
}) {
  get code() { return "ENOTLEADER" as const }
}
export class Unavailable extends Outcome<Unavailable>()("Unavailable", base) {
  get code() { return "EAGAIN" as const }
}
export class Timeout extends Outcome<Timeout>()("Timeout", base) {
  get code() { return "ETIMEDOUT" as const }
}
/** Stored bytes failed their checksum, or a log/record is damaged. Names file and offset when known. */
export class Corruption extends Schema.TaggedError<Corruption>()("Corruption", {
  message: Schema.String,
  path: Schema.optional(Schema.String),
  file: Schema.optional(Schema.String),
  offset: Schema.optional(Schema.Number)
}) {
  get code() { return "EIO" as const }
}
/** A local disk operation failed (not a checksum problem). */
export class IoError extends Schema.TaggedError<IoError>()("IoError", base) {
  get code() { return "EIO" as const }
}

/**
 * The client session a request was made under has expired (or never existed): the request was
 * not applied and never will be. For a request sent before, whether an earlier copy applied is
 * unknown: the client must not resend it under a new session.
 */
export class SessionExpired extends Outcome<SessionExpired>()("SessionExpired", base) {
  get code() { return "ESESSION" as const }
}
/**
 * A request id (session and sequence number) that already named a different request, or one
 * the client had already acknowledged. Refused, never applied: two clients must never share ids.
 */
export class RequestIdReused extends Outcome<RequestIdReused>()("RequestIdReused", base) {
  get code() { return "EINVAL" as const }
}
/** The node is at its limit of work in flight; nothing was done. Retry after `retryAfterMillis`. */
export class Busy extends Outcome<Busy>()("Busy", {
  message: Schema.String,
  path: Schema.optional(Schema.String),
  retryAfterMillis: Schema.NonNegativeInt
}) {
  get code() { return "EBUSY" as const }
}

/** Errors of the filesystem namespace: outcomes of applying a command, deterministic on every node. */
export const FsError = Schema.Union(
  NotFound, AlreadyExists, NotADirectory, IsADirectory, NotEmpty, PermissionDenied, InvalidArgument, Conflict
)
export type FsError = typeof FsError.Type

/** Refusals of a request's session, decided at apply time like namespace errors, but never recorded as its outcome. */
export const SessionError = Schema.Union(SessionExpired, RequestIdReused)
export type SessionError = typeof SessionError.Type

/** What applying a command can fail with, on every node alike. */
export const CommandError = Schema.Union(FsError, SessionError)
export type CommandError = typeof CommandError.Type

/** Errors of reaching a consistent answer: leadership, availability, load, time, integrity. */
export const ClusterError = Schema.Union(NotLeader, Unavailable, Busy, Timeout, Corruption, IoError)
export type ClusterError = typeof ClusterError.Type

/** Everything a client can receive. */
export const SandstoreError = Schema.Union(CommandError, ClusterError)
export type SandstoreError = typeof SandstoreError.Type

export const isSandstoreError = Schema.is(SandstoreError)
