/**
 * A NodeRouter for fault-injection tests: the seed router, with every RPC passed through an
 * `intercept` function that may run it, fail it, or run it and then lose the reply.
 */
import { Context, Effect, Layer } from "effect"
import { TcpCommunicator } from "../../layers/transport/tcp.ts"
import { type ClientSettings, SandstoreClient, type SandstoreClientShape } from "../../src/client/SandstoreClient.ts"
import type { ApiClient, Connection } from "../../src/client/NodeRouter.ts"
import { NodeRouter } from "../../src/client/NodeRouter.ts"
import * as SeedRouter from "../../src/client/SeedRouter.ts"

export type Intercept = (
  rpc: string,
  payload: Record<string, unknown>,
  proceed: Effect.Effect<unknown, unknown>
) => Effect.Effect<unknown, unknown>

export const faultyRouter = (seeds: ReadonlyArray<string>, intercept: Intercept) =>
  Layer.scoped(
    NodeRouter,
    Effect.gen(function*() {
      const inner = yield* SeedRouter.make({ seeds })
      const wrapped = new WeakMap<Connection, Connection>()
      const original = new WeakMap<Connection, Connection>()
      const wrap = (connection: Connection): Connection => {
        const known = wrapped.get(connection)
        if (known !== undefined) return known
        const api = new Proxy(connection.api, {
          get: (target, rpc: string) => {
            const call = (target as unknown as Record<string, (payload: unknown, options?: unknown) => Effect.Effect<unknown, unknown>>)[rpc]!
            // The call options (its bound) go on to the transport untouched.
            return (payload: Record<string, unknown>, options?: unknown) => intercept(rpc, payload ?? {}, call(payload, options))
          }
        }) as ApiClient
        const proxy: Connection = { ...connection, api }
        wrapped.set(connection, proxy)
        original.set(proxy, connection)
        return proxy
      }
      const unwrap = (connection: Connection) => original.get(connection) ?? connection
      return NodeRouter.of({
        current: Effect.map(inner.current, wrap),
        reportUnreachable: (connection) => inner.reportUnreachable(unwrap(connection)),
        redirect: (connection, hint) => inner.redirect(unwrap(connection), hint)
      })
    })
  )

/** An SDK client over `faultyRouter`, closed with the scope. */
export const faultyClientOf = (seeds: ReadonlyArray<string>, intercept: Intercept, settings: ClientSettings = {}) =>
  Effect.map(
    Layer.build(
      SandstoreClient.layerFromRouter(settings).pipe(
        Layer.provide(faultyRouter(seeds, intercept)),
        Layer.provide(TcpCommunicator)
      )
    ),
    (context): SandstoreClientShape => Context.get(context, SandstoreClient)
  )
