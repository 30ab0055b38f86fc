/** EndpointResolver: maps a node id to the address its RPC server listens on. */
import { Context, type Effect } from "effect"
import type { NotFound } from "../domain/errors.ts"

export interface EndpointResolverShape {
  readonly resolve: (nodeId: string) => Effect.Effect<string, NotFound>
}

export class EndpointResolver extends Context.Tag("sandstore/EndpointResolver")<EndpointResolver, EndpointResolverShape>() {}
