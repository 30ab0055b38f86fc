/**
 * How one SDK call reaches a node: ask the router where to send, bound each attempt in time
 * (and tell the node that bound, so it stops working when the client stops waiting), and retry
 * what is safe to retry with exponential backoff and jitter (delays drawn from `Random`).
 *
 * Queries are idempotent and simply run again. A mutation gets one ticket of the client's
 * session for all its attempts, so a resend after a lost reply is answered with the first
 * outcome by the node, never applied twice. If the session expired meanwhile: a mutation no
 * node can have applied yet is sent again under a new session; one that may have been applied
 * fails with SessionExpired (its outcome is unknown) rather than being resent blindly.
 */
import type { RpcClientError } from "@effect/rpc"
import { Duration, Effect, Random } from "effect"
import { type SandstoreError, Timeout } from "../domain/errors.ts"
import type { SessionId } from "../domain/session.ts"
import type { SessionRequest } from "../protocol/ClientApi.ts"
import type { ClientSession, Ticket } from "./ClientSession.ts"
import { unreachable } from "./errors.ts"
import type { CallOptions } from "../services/Communicator.ts"
import type { ApiClient, Connection, NodeRouterShape } from "./NodeRouter.ts"

type Call<A> = Effect.Effect<A, SandstoreError | RpcClientError.RpcClientError>

export interface Invoker {
  /** The connection requests currently go to. */
  readonly connection: Effect.Effect<Connection, SandstoreError>
  /** An idempotent request. */
  readonly query: <A>(call: (api: ApiClient) => Call<A>) => Effect.Effect<A, SandstoreError>
  /** A mutation, applied at most once: `call` receives its session request, the same on every attempt. */
  readonly mutate: <A>(call: (api: ApiClient, request: SessionRequest) => Call<A>) => Effect.Effect<A, SandstoreError>
  /** A ticket for a mutation the caller may resend later (`mutateAs`) and releases itself. */
  readonly ticket: Effect.Effect<Ticket, SandstoreError>
  /** `mutate` under a ticket the caller holds; the ticket stays outstanding. */
  readonly mutateAs: <A>(
    ticket: Ticket,
    call: (api: ApiClient, request: SessionRequest) => Call<A>
  ) => Effect.Effect<A, SandstoreError>
  /** Keep the open session alive (nothing when none is open). */
  readonly keepAlive: Effect.Effect<void, SandstoreError>
  /** The open session's id, if any. */
  readonly sessionId: () => SessionId | undefined
}

export interface RetryOptions {
  /** attempts after the first */
  readonly retries: number
  readonly baseDelay: Duration.DurationInput
  readonly maxDelay: Duration.DurationInput
  /** bound on one attempt, so a silent node cannot hang a call; the node is told it too */
  readonly attemptTimeout: Duration.DurationInput
}

export const defaultRetryOptions: RetryOptions = {
  retries: 8,
  baseDelay: "50 millis",
  maxDelay: "2 seconds",
  attemptTimeout: "60 seconds"
}

/** Failures after which the same request may succeed: the node or the cluster was not ready, or busy. */
const isTransient = (error: SandstoreError): boolean =>
  error._tag === "Unavailable" || error._tag === "Timeout" || error._tag === "NotLeader" || error._tag === "Busy" ||
  // A write that kept losing version races: nothing of it applied, and it may win next time.
  error._tag === "Conflict"

/** Refusals that say the request was not carried out anywhere (so it cannot have applied). */
const refusedBeforeApplying = (error: SandstoreError): boolean => error._tag === "NotLeader" || error._tag === "Busy"

export const makeInvoker = (
  router: NodeRouterShape,
  session: ClientSession,
  options: RetryOptions = defaultRetryOptions
): Invoker => {
  const baseMillis = Duration.toMillis(options.baseDelay)
  const maxMillis = Duration.toMillis(options.maxDelay)
  const attemptMillis = Math.max(1, Math.round(Duration.toMillis(options.attemptTimeout)))

  /** Before retry n (from 0): baseDelay doubled n times, at most maxDelay, jittered by ±20%; at least what a Busy node asked. */
  const backoff = (retry: number, error: SandstoreError) =>
    Effect.flatMap(Random.nextRange(0.8, 1.2), (jitter) => {
      const asked = error._tag === "Busy" ? error.retryAfterMillis : 0
      return Effect.sleep(Duration.millis(Math.max(asked, Math.min(maxMillis, baseMillis * 2 ** retry)) * jitter))
    })

  /**
   * Every call on `api` is bounded by the attempt timeout in the transport (CallOptions: it
   * fails with Timeout when no answer came in time) and tells the node how long the client waits.
   */
  const timed = new WeakMap<ApiClient, ApiClient>()
  const withTimeout = (connection: Connection): ApiClient => {
    const known = timed.get(connection.api)
    if (known !== undefined) return known
    const bound: CallOptions = {
      timeoutMillis: attemptMillis,
      onTimeout: () =>
        new Timeout({ message: `${connection.address} did not answer within ${Duration.format(options.attemptTimeout)}` })
    }
    const wrapped: Record<string, unknown> = {}
    for (const [name, method] of Object.entries(connection.api as unknown as Record<string, (payload?: object, options?: object) => unknown>)) {
      wrapped[name] = (payload?: object, callOptions?: CallOptions) =>
        method({ ...payload, timeoutMillis: attemptMillis }, callOptions === undefined ? bound : { ...bound, ...callOptions })
    }
    timed.set(connection.api, wrapped as unknown as ApiClient)
    return wrapped as unknown as ApiClient
  }

  const attempt = <A>(call: (api: ApiClient) => Call<A>): Effect.Effect<A, SandstoreError> =>
    Effect.flatMap(router.current, (connection) =>
      call(withTimeout(connection)).pipe(
        Effect.catchTags({
          RpcClientError: (error) =>
            Effect.zipRight(router.reportUnreachable(connection), Effect.fail(unreachable(connection.address, error))),
          NotLeader: (error) => Effect.zipRight(router.redirect(connection, error), Effect.fail(error))
        })
      ))

  /**
   * `attempt(n)` for n = 0, 1, ... after a backoff while it fails transiently, up to `retries`
   * more times; `onFailure` sees every failed attempt.
   */
  const retrying = <A>(attemptN: () => Effect.Effect<A, SandstoreError>, onFailure: (error: SandstoreError) => void = () => {}) => {
    const go = (retry: number): Effect.Effect<A, SandstoreError> =>
      Effect.catchIf(attemptN(), (error) => {
        onFailure(error)
        return retry < options.retries && isTransient(error)
      }, (error) => Effect.zipRight(backoff(retry, error), go(retry + 1)))
    return go(0)
  }

  const openSession = (id: SessionId, create: boolean) =>
    retrying(() => attempt((api) => api.OpenSession({ session: id, create })))

  const ticket = session.ticket((id) => openSession(id, true))

  /** Send under `held` until answered; `mayHaveApplied` learns whether an attempt could have reached the state machine. */
  const sendAs = <A>(held: Ticket, call: (api: ApiClient, request: SessionRequest) => Call<A>, attempts: { mayHaveApplied: boolean }) =>
    retrying(() => attempt((api) => call(api, held.request())), (error) => {
      if (!refusedBeforeApplying(error)) attempts.mayHaveApplied = true
    })

  const mutate = <A>(call: (api: ApiClient, request: SessionRequest) => Call<A>): Effect.Effect<A, SandstoreError> =>
    Effect.flatMap(ticket, (held) => {
      const attempts = { mayHaveApplied: false }
      return sendAs(held, call, attempts).pipe(
        Effect.ensuring(Effect.sync(held.release)),
        Effect.catchTag("SessionExpired", (error) => {
          session.expired(held.session)
          // Nothing of it can have applied: carry it out under a new session.
          return attempts.mayHaveApplied ? Effect.fail(error) : mutate(call)
        })
      )
    })

  return {
    connection: retrying(() => router.current),
    query: (call) => retrying(() => attempt(call)),
    mutate,
    ticket,
    mutateAs: (held, call) =>
      sendAs(held, call, { mayHaveApplied: false }).pipe(
        Effect.tapErrorTag("SessionExpired", () => Effect.sync(() => session.expired(held.session)))
      ),
    keepAlive: Effect.suspend(() => {
      const id = session.openId()
      return id._tag === "None" ? Effect.void : Effect.catchTag(openSession(id.value, false), "SessionExpired", () =>
        Effect.sync(() => session.expired(id.value)))
    }),
    sessionId: () => {
      const id = session.openId()
      return id._tag === "None" ? undefined : id.value
    }
  }
}
