/**
 * How one SDK call reaches a node: ask the router where to send, bound each attempt in time,
 * and retry what is safe to retry with exponential backoff and jitter (delays drawn from
 * `Random`). Queries are idempotent and simply run again. Mutations get one request id for all
 * their attempts, so a retry after a lost reply is deduplicated by the node, never applied twice.
 */
import type { RpcClientError } from "@effect/rpc"
import { Duration, Effect, Random } from "effect"
import { type SandstoreError, Timeout } from "../domain/errors.ts"
import { unreachable } from "./errors.ts"
import type { ApiClient, Connection, NodeRouterShape } from "./NodeRouter.ts"
import type { RequestIds } from "./RequestIds.ts"

type Call<A> = Effect.Effect<A, SandstoreError | RpcClientError.RpcClientError>

export interface Invoker {
  /** The connection requests currently go to. */
  readonly connection: Effect.Effect<Connection, SandstoreError>
  /** An idempotent request. */
  readonly query: <A>(call: (api: ApiClient) => Call<A>) => Effect.Effect<A, SandstoreError>
  /** A mutation: `call` receives the request id to send, the same one on every attempt. */
  readonly mutate: <A>(call: (api: ApiClient, requestId: string) => Call<A>) => Effect.Effect<A, SandstoreError>
  /** A fresh request id, for a caller that may resend a mutation under it later (`mutateAs`). */
  readonly nextRequestId: Effect.Effect<string>
  /** `mutate` under a request id the caller holds (from `nextRequestId`). */
  readonly mutateAs: <A>(requestId: string, call: (api: ApiClient, requestId: string) => Call<A>) => Effect.Effect<A, SandstoreError>
}

export interface RetryOptions {
  /** attempts after the first */
  readonly retries: number
  readonly baseDelay: Duration.DurationInput
  readonly maxDelay: Duration.DurationInput
  /** bound on one attempt, so a silent node cannot hang a call */
  readonly attemptTimeout: Duration.DurationInput
}

export const defaultRetryOptions: RetryOptions = {
  retries: 8,
  baseDelay: "50 millis",
  maxDelay: "2 seconds",
  attemptTimeout: "60 seconds"
}

/** Failures after which the same request may succeed: the node or the cluster was not ready. */
const isTransient = (error: SandstoreError): boolean =>
  error._tag === "Unavailable" || error._tag === "Timeout" || error._tag === "NotLeader"

export const makeInvoker = (
  router: NodeRouterShape,
  requestIds: RequestIds,
  options: RetryOptions = defaultRetryOptions
): Invoker => {
  const baseMillis = Duration.toMillis(options.baseDelay)
  const maxMillis = Duration.toMillis(options.maxDelay)
  /** Before retry n (from 0): baseDelay doubled n times, at most maxDelay, jittered by ±20%. */
  const backoff = (retry: number) =>
    Effect.flatMap(Random.nextRange(0.8, 1.2), (jitter) =>
      Effect.sleep(Duration.millis(Math.min(maxMillis, baseMillis * 2 ** retry) * jitter)))

  const attempt = <A>(call: (api: ApiClient) => Call<A>): Effect.Effect<A, SandstoreError> =>
    Effect.flatMap(router.current, (connection) =>
      call(connection.api).pipe(
        Effect.timeoutFail({
          duration: options.attemptTimeout,
          onTimeout: () =>
            new Timeout({ message: `${connection.address} did not answer within ${Duration.format(options.attemptTimeout)}` })
        }),
        Effect.catchTags({
          RpcClientError: (error) =>
            Effect.zipRight(router.reportUnreachable(connection), Effect.fail(unreachable(connection.address, error))),
          NotLeader: (error) => Effect.zipRight(router.redirect(connection, error), Effect.fail(error))
        })
      ))

  /** `effect`, then again after a backoff while it fails transiently, up to `retries` more times. */
  const retrying = <A>(effect: Effect.Effect<A, SandstoreError>) => {
    const attempt = (retry: number): Effect.Effect<A, SandstoreError> =>
      Effect.catchIf(effect, (error) => retry < options.retries && isTransient(error), () =>
        Effect.zipRight(backoff(retry), attempt(retry + 1)))
    return attempt(0)
  }

  const mutateAs = <A>(requestId: string, call: (api: ApiClient, requestId: string) => Call<A>) =>
    retrying(attempt((api) => call(api, requestId)))

  return {
    connection: retrying(router.current),
    query: (call) => retrying(attempt(call)),
    mutate: (call) => Effect.flatMap(requestIds.next, (requestId) => mutateAs(requestId, call)),
    nextRequestId: requestIds.next,
    mutateAs
  }
}
