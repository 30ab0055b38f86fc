/**
 * Communicator: the network. It turns an address into an `@effect/rpc` protocol, either side:
 * `listen` gives the server protocol for RpcServer, `connect` the client protocol for
 * RpcClient. The TCP implementation frames msgpack with a length prefix; a simulated one
 * delivers in memory and can drop, delay and partition. Both close with their scope.
 */
import type { RpcClient, RpcServer } from "@effect/rpc"
import { Context, type Effect, type Scope } from "effect"
import type { Unavailable } from "../domain/errors.ts"

export interface CommunicatorShape {
  /** Serve on `address` (host:port; port 0 picks a free one). Resolves with the bound address. */
  readonly listen: (
    address: string
  ) => Effect.Effect<{ readonly protocol: RpcServer.Protocol["Type"]; readonly address: string }, Unavailable, Scope.Scope>
  /** A client protocol to the server at `address`; reconnects on failure. */
  readonly connect: (address: string) => Effect.Effect<RpcClient.Protocol["Type"], never, Scope.Scope>
}

export class Communicator extends Context.Tag("sandstore/Communicator")<Communicator, CommunicatorShape>() {}
