/**
 * Communicator: the network, at the level of RPC groups. `serve` answers a group's requests on
 * an address with the handlers in context; `client` gives a typed client of a group at an
 * address. The TCP implementation runs @effect/rpc's server, and a client of its wire protocol,
 * over length-prefixed msgpack frames; the simulated one (src/sim/network.ts) carries each request and reply in
 * memory, through the same payload and exit Schemas, and can drop, delay and partition. A
 * client's calls fail with `RpcClientError` while the server cannot be reached. Both close
 * with their scope.
 *
 * A call takes `CallOptions` as its second argument. Every implementation honours them: a
 * bound on a call lives in the transport, which already waits for the reply, instead of a race
 * of two more fibers around every call (Effect.timeoutFail: a quarter of the SDK's CPU per call).
 */
import type { Rpc, RpcClient, RpcClientError, RpcGroup } from "@effect/rpc"
import { Context, type Effect, type Scope } from "effect"
import type { Unavailable } from "../domain/errors.ts"

/** What serving a group needs from context: its handlers (`group.toLayer`). */
export type Served<Rpcs extends Rpc.Any> = Rpc.ToHandler<Rpcs> | Rpc.Middleware<Rpcs> | Rpc.Context<Rpcs>

export type GroupClient<Rpcs extends Rpc.Any> = RpcClient.RpcClient<Rpcs, RpcClientError.RpcClientError>

/** What a call may ask of the transport, besides its payload. */
export interface CallOptions {
  /** Send and do not wait for an answer (the call succeeds once sent). */
  readonly discard?: boolean
  /**
   * Put the request on the wire now rather than coalesce it with what else is sent in the same
   * burst of work: for messages someone is waiting on that are batched already (Raft's).
   */
  readonly urgent?: boolean
  /**
   * Stop waiting after this many milliseconds: the call fails with `onTimeout()`, and the server
   * is told to stop working on it. The caller picks the error (the SDK's is `Timeout`).
   */
  readonly timeoutMillis?: number
  readonly onTimeout?: () => unknown
}

/**
 * `method` of a GroupClient called with `options`: RpcClient's own option type does not list
 * CallOptions, but every Communicator honours them. The call may also fail with what
 * `options.onTimeout` makes.
 */
export const withCallOptions = <P, A, E, T = never>(
  method: (payload: P, options?: never) => Effect.Effect<A, E>,
  options: CallOptions & { readonly onTimeout?: () => T }
) =>
(payload: P): Effect.Effect<A, E | T> =>
  (method as unknown as (payload: P, options: CallOptions) => Effect.Effect<A, E | T>)(payload, options)

export interface CommunicatorShape {
  /** Serve `group` on `address` (host:port; port 0 picks a free one). Resolves with the bound address. */
  readonly serve: <Rpcs extends Rpc.Any>(
    group: RpcGroup.RpcGroup<Rpcs>,
    address: string
  ) => Effect.Effect<string, Unavailable, Scope.Scope | Served<Rpcs>>
  /** A client of `group` on the server at `address`; reconnects on failure. */
  readonly client: <Rpcs extends Rpc.Any>(
    group: RpcGroup.RpcGroup<Rpcs>,
    address: string
  ) => Effect.Effect<GroupClient<Rpcs>, never, Scope.Scope>
}

export class Communicator extends Context.Tag("sandstore/Communicator")<Communicator, CommunicatorShape>() {}
