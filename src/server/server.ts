/**
 * The server program: listens through the Communicator and serves the client API with the
 * handlers that call the two orchestrators. It depends on the orchestrator Tags only, so it is
 * the same for every topology. A multi-node topology also serves its node-to-node APIs (chunk
 * transfer, Raft messages) on the same address: their handlers come from the topology's layers.
 */
import type { Rpc, RpcGroup } from "@effect/rpc"
import { Effect, Layer } from "effect"
import { ChunkApi } from "../protocol/ChunkApi.ts"
import { ClientApi } from "../protocol/ClientApi.ts"
import { RaftApi } from "../protocol/RaftApi.ts"
import { Communicator } from "../services/Communicator.ts"
import { Server } from "../services/Server.ts"
import { ClientHandlers } from "./clientHandlers.ts"

const serve = <Rpcs extends Rpc.Any>(group: RpcGroup.RpcGroup<Rpcs>, listen: string) =>
  Layer.scoped(
    Server,
    Effect.gen(function*() {
      const communicator = yield* Communicator
      const address = yield* communicator.serve(group, listen)
      return Server.of({ address })
    })
  )

/** A node that only serves clients (standalone). */
export const ServerLive = (options: { readonly listen: string }) =>
  serve(ClientApi, options.listen).pipe(Layer.provide(ClientHandlers))

/** The API of a cluster node: clients, plus chunk transfer and Raft between nodes. */
export const NodeApi = ClientApi.merge(ChunkApi, RaftApi)

/** A cluster node: serves NodeApi; the chunk and Raft handlers come from the topology. */
export const NodeServerLive = (options: { readonly listen: string }) =>
  serve(NodeApi, options.listen).pipe(Layer.provide(ClientHandlers))
