/**
 * The server program: listens through the Communicator and serves the client API with the
 * handlers above. It depends on the orchestrator Tags only, so it is the same for every
 * topology.
 */
import { RpcServer } from "@effect/rpc"
import { Effect, Layer } from "effect"
import { ClientApi } from "../protocol/ClientApi.ts"
import { Communicator } from "../services/Communicator.ts"
import { Server } from "../services/Server.ts"
import { ClientHandlers } from "./clientHandlers.ts"

export const ServerLive = (options: { readonly listen: string }) =>
  Layer.scoped(
    Server,
    Effect.gen(function*() {
      const communicator = yield* Communicator
      const { protocol, address } = yield* communicator.listen(options.listen)
      yield* RpcServer.make(ClientApi, { disableTracing: true, concurrency: "unbounded" }).pipe(
        Effect.provideService(RpcServer.Protocol, protocol),
        Effect.interruptible,
        Effect.forkScoped
      )
      return Server.of({ address })
    })
  ).pipe(Layer.provide(ClientHandlers))
