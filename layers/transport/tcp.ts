/**
 * The Communicator over TCP: node:net sockets carrying @effect/rpc's wire messages in
 * length-prefixed msgpack frames (framedMsgpack.ts), with the writes of one event-loop turn
 * coalesced per socket (coalescedWrites.ts). The server (socketServer.ts) and the client
 * (socketClient.ts) do per request only what a request needs; both speak the protocol of
 * @effect/rpc's RpcServer and RpcClient, so either end can be swapped for those.
 */
import { Layer } from "effect"
import { Communicator } from "../../src/services/Communicator.ts"
import { socketClient } from "./socketClient.ts"
import { socketServer } from "./socketServer.ts"

export const TcpCommunicator: Layer.Layer<Communicator> = Layer.succeed(
  Communicator,
  Communicator.of({ serve: socketServer, client: socketClient })
)
