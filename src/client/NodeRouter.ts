/**
 * NodeRouter: which node a client request goes to. The SDK asks it for the current connection
 * before every attempt and tells it what went wrong (unreachable, not the leader), so the
 * policy (first reachable seed today, leader tracking later) lives here and nowhere else.
 */
import type { RpcClient, RpcClientError, RpcGroup } from "@effect/rpc"
import { Context, type Effect } from "effect"
import type { NotLeader, Unavailable } from "../domain/errors.ts"
import type { FsInfo } from "../domain/fs.ts"
import type { ClientApi } from "../protocol/ClientApi.ts"

export type ApiClient = RpcClient.RpcClient<RpcGroup.Rpcs<typeof ClientApi>, RpcClientError.RpcClientError>

/** A live RPC client to one node, and the filesystem parameters it answered with when probed. */
export interface Connection {
  readonly address: string
  readonly api: ApiClient
  readonly info: FsInfo
}

export interface NodeRouterShape {
  /** The node to send the next request to; connects first when there is none. */
  readonly current: Effect.Effect<Connection, Unavailable>
  /** Requests to `connection` failed in transport: stop using it. */
  readonly reportUnreachable: (connection: Connection) => Effect.Effect<void>
  /** `connection` answered NotLeader: follow its hint, or look again when it has none. */
  readonly redirect: (connection: Connection, hint: NotLeader) => Effect.Effect<void>
}

export class NodeRouter extends Context.Tag("sandstore/client/NodeRouter")<NodeRouter, NodeRouterShape>() {}
