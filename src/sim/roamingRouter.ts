/**
 * A client behind a load balancer: each request goes to the next node in turn, whatever its
 * role. A node that is not the leader must answer NotLeader (the retry then goes where its hint
 * says), never a read from its own applied state, which trails the leader's by a round or more:
 * this client makes every follower face linearizable reads, as the SDK's leader-tracking
 * router rarely does.
 */
import { Effect, Layer, Scope } from "effect"
import { Unavailable } from "../domain/errors.ts"
import { ClientApi } from "../protocol/ClientApi.ts"
import { type Connection, NodeRouter } from "../client/NodeRouter.ts"
import { Communicator, withCallOptions } from "../services/Communicator.ts"

/** A node that does not answer FsInfo within this time counts as unreachable for this request. */
const PROBE_MILLIS = 1000

export const roamingRouter = (addresses: ReadonlyArray<string>): Layer.Layer<NodeRouter, never, Communicator> =>
  Layer.scoped(
    NodeRouter,
    Effect.gen(function*() {
      const communicator = yield* Communicator
      const scope = yield* Effect.scope
      /** One connection per node, kept: the simulated network reconnects a broken one on its next call. */
      const connections = new Map<string, Connection>()
      let turn = 0
      /** Where the last NotLeader pointed: the next attempt goes there, then the rotation goes on. */
      let hinted: string | null = null

      const connect = (address: string): Effect.Effect<Connection, Unavailable> =>
        Effect.suspend(() => {
          const known = connections.get(address)
          if (known !== undefined) return Effect.succeed(known)
          return Effect.gen(function*() {
            const api = yield* communicator.client(ClientApi, address)
            const fsInfo = withCallOptions(api.FsInfo, {
              timeoutMillis: PROBE_MILLIS,
              onTimeout: () => new Unavailable({ message: `${address} did not answer within ${PROBE_MILLIS} ms` })
            })
            const info = yield* fsInfo({}).pipe(
              Effect.mapError((error) =>
                error instanceof Unavailable ? error : new Unavailable({ message: `${address} did not answer FsInfo: ${String(error)}` })
              )
            )
            const connection: Connection = { address, api, info }
            connections.set(address, connection)
            return connection
          }).pipe(Scope.extend(scope))
        })

      return NodeRouter.of({
        current: Effect.suspend(() => {
          const address = hinted ?? addresses[turn++ % addresses.length]!
          hinted = null
          return connect(address)
        }),
        reportUnreachable: () => Effect.void,
        redirect: (_connection, hint) =>
          Effect.sync(() => {
            hinted = hint.address
          })
      })
    })
  )
