/**
 * Client sessions in the state machine, as in the Raft dissertation (§6.3): what makes every
 * client request apply at most once, however often it is resent.
 *
 * A client opens a session under a random 128-bit id and numbers its requests 1, 2, 3...; a
 * request keeps its number on every resend. The state machine records the outcome of each
 * request it carries out and answers a resend with it. Each request also says below which
 * number the client has all its answers: those outcomes are dropped, and a request numbered
 * below that is refused (a late duplicate must not apply). A session unused for the session
 * timeout, by the state machine's own clock, is expired: its requests are refused and never
 * applied, and its table rows are pruned.
 *
 * Deduplication is per client request, never per internal attempt: a node may carry out one
 * request in several attempts (a write that lost a version race plans again), and all of them
 * carry the request's id. A Conflict is therefore not recorded — it changed nothing, and the
 * next attempt under the same id may still succeed.
 *
 * Everything here reads and stages writes through a Transaction, so it applies in the same
 * atomic batch as the command it answers; like the commands, it is synchronous and throws
 * StoreError (tables.ts).
 */
import type { CommandOutcome, RequestTag } from "../../src/domain/commands.ts"
import { RequestIdReused, SessionExpired } from "../../src/domain/errors.ts"
import type { SessionId } from "../../src/domain/session.ts"
import * as Keys from "./keys.ts"
import type { SessionRecord } from "./records.ts"
import * as Tables from "./tables.ts"
import type { Transaction } from "./transaction.ts"

export interface SessionSettings {
  /** A session unused this long (state machine clock) is expired. Equal on every replica. */
  readonly timeoutMillis: number
}

/** Sessions pruned per pruning pass at most, so one entry's batch stays small. */
const PRUNE_BATCH = 64
/** Larger than any sequence number: the end of a session's reply range. */
const SEQ_LIMIT = Number.MAX_SAFE_INTEGER

/**
 * A client acknowledges its requests in order, so the replies a request drops are usually one
 * or two: deleting their keys directly costs less than opening an iterator to find them
 * (a delete of a reply that was never recorded, a Conflict's, changes nothing). Longer ranges
 * are scanned.
 */
const DIRECT_DELETES = 32

/** Delete the replies of `session` with sequence numbers in [from, to). */
const dropReplies = (tx: Transaction, session: SessionId, from: number, to: number): void => {
  if (to - from <= DIRECT_DELETES) {
    for (let seq = from; seq < to; seq++) tx.del(Keys.replyKey(session, seq))
  } else {
    for (const [key] of tx.scan(Keys.replyRange(session, from, to))) tx.del(key)
  }
}

/** How a request stands before its command runs. */
export type Admission =
  /** Not to be applied (expired session, reused or acknowledged id): this is its outcome. */
  | { readonly _tag: "Refused"; readonly outcome: CommandOutcome }
  /** A resend of a request already carried out: its recorded outcome. */
  | { readonly _tag: "Answered"; readonly outcome: CommandOutcome }
  /** To be carried out now. */
  | { readonly _tag: "Admitted"; readonly session: SessionRecord }

const refused = (error: SessionExpired | RequestIdReused): Admission => ({ _tag: "Refused", outcome: { _tag: "Err", error } })

const expired = (session: SessionRecord, now: number, settings: SessionSettings) =>
  now - session.lastActive > settings.timeoutMillis

export const admit = (
  tx: Transaction,
  request: RequestTag,
  now: number,
  settings: SessionSettings
): Admission => {
  const name = `request ${request.seq} of session ${request.session}`
  const session = Tables.readSession(tx.get, request.session)
  if (session === undefined) {
    return refused(new SessionExpired({ message: `${name}: the session is not open (it expired, or was never opened)` }))
  }
  if (expired(session, now, settings)) {
    return refused(new SessionExpired({ message: `${name}: the session expired after ${settings.timeoutMillis} ms unused` }))
  }
  if (request.seq < session.ackedBelow) {
    return refused(new RequestIdReused({ message: `${name}: the client already acknowledged that request` }))
  }
  const reply = Tables.readReply(tx.get, request.session, request.seq)
  if (reply === undefined) return { _tag: "Admitted", session } satisfies Admission
  if (reply.digest !== request.digest) {
    return refused(new RequestIdReused({ message: `${name}: that id already named a different request` }))
  }
  return { _tag: "Answered", outcome: reply.outcome } satisfies Admission
}

/**
 * Where the activity index files a session last active at `lastActive`: the start of its
 * interval of an eighth of the timeout (at most a second). The index key moves only when a
 * request lands in a later interval, not with every request, which spares two of the store
 * writes of each mutation. Pruning reads the session's exact last activity before it drops
 * it, so expiry stays exact; a session is pruned at most one interval later.
 */
const activityBucket = (lastActive: number, settings: SessionSettings): number => {
  const interval = Math.max(1, Math.min(1000, Math.floor(settings.timeoutMillis / 8)))
  return lastActive - (lastActive % interval)
}

const NO_VALUE = Buffer.alloc(0)

/** The session's row and its place in the activity index, moved from `from` to `to`. */
const touch = (tx: Transaction, id: SessionId, from: SessionRecord | undefined, to: SessionRecord, settings: SessionSettings) => {
  const filedAt = from === undefined ? undefined : activityBucket(from.lastActive, settings)
  const fileAt = activityBucket(to.lastActive, settings)
  if (filedAt !== fileAt) {
    if (filedAt !== undefined) tx.del(Keys.sessionActivityKey(filedAt, id))
    tx.put(Keys.sessionActivityKey(fileAt, id), NO_VALUE)
  }
  tx.put(Keys.sessionKey(id), Tables.encodeSession(to))
}

/** Record `outcome` as the answer to the admitted `request`, drop what the client acknowledged, and mark the session active. */
export const record = (
  tx: Transaction,
  request: RequestTag,
  session: SessionRecord,
  outcome: CommandOutcome,
  now: number,
  settings: SessionSettings
): void => {
  if (!(outcome._tag === "Err" && outcome.error._tag === "Conflict")) {
    tx.put(Keys.replyKey(request.session, request.seq), Tables.encodeReply({ digest: request.digest, outcome }))
  }
  // A client cannot acknowledge the request it is making.
  const ackedBelow = Math.max(session.ackedBelow, Math.min(request.ackedBelow, request.seq))
  if (ackedBelow > session.ackedBelow) dropReplies(tx, request.session, session.ackedBelow, ackedBelow)
  touch(tx, request.session, session, { lastActive: Math.max(session.lastActive, now), ackedBelow }, settings)
}

/** Forget a session and everything recorded for it. */
const drop = (tx: Transaction, id: SessionId, session: SessionRecord, settings: SessionSettings) => {
  for (const [key] of tx.scan(Keys.replyRange(id, 0, SEQ_LIMIT))) tx.del(key)
  tx.del(Keys.sessionActivityKey(activityBucket(session.lastActive, settings), id))
  tx.del(Keys.sessionKey(id))
}

/**
 * OpenSession: with `create`, create the session (or keep it alive: a resent open); without,
 * keep an open one alive. A session that is not open stays so: it expired, or was closed or
 * pruned, and requests of its old life may still be in flight.
 */
export const open = (
  tx: Transaction,
  id: SessionId,
  create: boolean,
  now: number,
  settings: SessionSettings
): CommandOutcome => {
  const session = Tables.readSession(tx.get, id)
  if ((session !== undefined && expired(session, now, settings)) || (session === undefined && !create)) {
    return {
      _tag: "Err",
      error: new SessionExpired({ message: `session ${id} is not open (it expired after ${settings.timeoutMillis} ms unused, or was closed); open a new one` })
    } satisfies CommandOutcome
  }
  touch(tx, id, session, { lastActive: Math.max(session?.lastActive ?? now, now), ackedBelow: session?.ackedBelow ?? 0 }, settings)
  return { _tag: "Ok", result: null } satisfies CommandOutcome
}

/** CloseSession: the client is done; its further requests are refused. */
export const close = (tx: Transaction, id: SessionId, settings: SessionSettings): CommandOutcome => {
  const session = Tables.readSession(tx.get, id)
  if (session !== undefined) drop(tx, id, session, settings)
  return { _tag: "Ok", result: null } satisfies CommandOutcome
}

/** Drop the rows of sessions expired by `now` (a bounded number per call). */
export const pruneExpired = (tx: Transaction, now: number, settings: SessionSettings): void => {
  const stale = tx.scan(Keys.sessionsActiveBefore(now - settings.timeoutMillis))
  for (const [key] of stale.slice(0, PRUNE_BATCH)) {
    const id = Keys.activitySession(key)
    const session = Tables.readSession(tx.get, id)
    if (session === undefined) tx.del(key)
    else if (expired(session, now, settings)) drop(tx, id, session, settings)
  }
}
