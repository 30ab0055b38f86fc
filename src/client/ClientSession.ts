/**
 * The client's side of its session: the session id, the numbering of its mutations and which
 * of them still await an answer. Every mutation gets a ticket — the session and a sequence
 * number — that stays the same however often it is resent; the node applies it at most once.
 * Each request also tells the node the lowest number still awaiting an answer, so the node can
 * drop the outcomes below it and refuse late duplicates of them.
 *
 * A ticket is outstanding until released: on an answer, or when the client gives up on the
 * request (after which a late copy of it is refused by the node, not applied). A file handle
 * holds the ticket of a write whose outcome is unknown until it is answered.
 *
 * The session id is 128 random bits from `SessionIds` (a cryptographic source unless a test
 * provides another), so two clients never share one. When the node says the session expired,
 * the next ticket opens a new session under a new id.
 */
import { Context, Effect, Option } from "effect"
import { randomBytes } from "node:crypto"
import type { SessionId } from "../domain/session.ts"
import type { SessionRequest } from "../protocol/ClientApi.ts"

/** Where session ids come from: 128 bits from the OS's cryptographic generator unless replaced. */
export class SessionIds extends Context.Reference<SessionIds>()("sandstore/client/SessionIds", {
  defaultValue: () => ({
    next: Effect.sync(() => randomBytes(16).toString("hex") as SessionId)
  })
}) {}

export interface Ticket {
  readonly session: SessionId
  readonly seq: number
  /** The request to send now (the acknowledged horizon moves as other requests are answered). */
  readonly request: () => SessionRequest
  /** Done with this request: answered, or given up on. */
  readonly release: () => void
}

export interface ClientSession {
  /** A ticket for a new mutation in the open session; with none open, `open` opens a new one first. */
  readonly ticket: <E>(open: (id: SessionId) => Effect.Effect<void, E>) => Effect.Effect<Ticket, E>
  /** The node said `id` expired: the next ticket opens a new session. */
  readonly expired: (id: SessionId) => void
  /** The id of the open session, if any (for keep-alives and closing). */
  readonly openId: () => Option.Option<SessionId>
}

interface Open {
  readonly id: SessionId
  nextSeq: number
  readonly outstanding: Set<number>
}

export const makeClientSession = Effect.gen(function*() {
  const ids = yield* SessionIds
  let open: Open | null = null
  const opening = yield* Effect.makeSemaphore(1)

  const lowestOutstanding = (session: Open) => {
    let lowest = session.nextSeq
    for (const seq of session.outstanding) if (seq < lowest) lowest = seq
    return lowest
  }

  /** The open session, or a new one opened with `openOn`. */
  const ensure = <E>(openOn: (id: SessionId) => Effect.Effect<void, E>): Effect.Effect<Open, E> =>
    Effect.suspend(() =>
      open !== null ? Effect.succeed(open) : opening.withPermits(1)(Effect.suspend(() => {
        if (open !== null) return Effect.succeed(open)
        return Effect.flatMap(ids.next, (id) =>
          Effect.map(openOn(id), () => {
            open = { id, nextSeq: 1, outstanding: new Set() }
            return open
          }))
      }))
    )

  const ticket = <E>(openOn: (id: SessionId) => Effect.Effect<void, E>) =>
    Effect.map(ensure(openOn), (session): Ticket => {
      const seq = session.nextSeq++
      session.outstanding.add(seq)
      return {
        session: session.id,
        seq,
        request: () => ({ session: session.id, seq, ackedBelow: lowestOutstanding(session) }),
        release: () => {
          session.outstanding.delete(seq)
        }
      }
    })

  return {
    ticket,
    expired: (id) => {
      if (open?.id === id) open = null
    },
    openId: () => Option.fromNullable(open?.id)
  } satisfies ClientSession
})
