/**
 * The Communicator over TCP: @effect/rpc's server and client on node:net sockets, framed by
 * `framedMsgpack`. Both run with `disableTracing: true`: spans on every request cost about
 * 70 µs per round trip and node traffic (Raft heartbeats, chunk transfers) is too frequent to
 * trace per call.
 */
import * as Socket from "@effect/platform/Socket"
import * as SocketServer from "@effect/platform/SocketServer"
import { NodeSocket, NodeSocketServer } from "@effect/platform-node"
import { type Rpc, RpcClient, type RpcGroup, RpcSerialization, RpcServer } from "@effect/rpc"
import { Effect, Layer, Option, Schedule, Scope } from "effect"
import * as Net from "node:net"
import { Unavailable } from "../../src/domain/errors.ts"
import { Communicator, type GroupClient } from "../../src/services/Communicator.ts"
import { coalesceWrites } from "./coalescedWrites.ts"
import { framedMsgpack } from "./framedMsgpack.ts"
import { oneWayTags, withoutOneWayReplies } from "./oneWayReplies.ts"

interface Endpoint {
  readonly host: string
  readonly port: number
}

/** "host:port" or "[ipv6]:port". */
const parseAddress = (address: string): Endpoint | undefined => {
  const match = /^\[([^\]]+)\]:(\d{1,5})$/.exec(address) ?? /^([^:[\]]+):(\d{1,5})$/.exec(address)
  if (match === null) return undefined
  const port = Number(match[2])
  return port <= 65535 ? { host: match[1], port } : undefined
}

const formatAddress = (host: string, port: number): string =>
  host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`

const describeCause = (cause: unknown): string => cause instanceof Error ? cause.message : String(cause)

/**
 * Both ends send what one event-loop turn produced with one write (coalescedWrites.ts) as soon
 * as the turn ends; Nagle would only delay it.
 */
const socketOptions = { noDelay: true, keepAlive: true } as const

/** A connection attempt to an unreachable host gives up after this, then is retried. */
const connectTimeout = "5 seconds"

/**
 * Reconnect quickly after a peer restarts, back off to one attempt a second while it stays
 * down; jitter keeps a restarted node from being hit by every peer at the same instant.
 * A connection that stayed up for a while starts over from the short delay.
 */
const reconnectSchedule = Schedule.exponential("20 millis", 2).pipe(
  Schedule.union(Schedule.spaced("1 second")),
  Schedule.jittered,
  Schedule.resetAfter("5 seconds")
)

/** The server's connections, each with its writes coalesced per turn (the socket is in the handler's context). */
const coalescingServer = (server: SocketServer.SocketServer["Type"]): SocketServer.SocketServer["Type"] =>
  SocketServer.SocketServer.of({
    ...server,
    run: (handler) =>
      server.run((socket) =>
        Effect.flatMap(Effect.serviceOption(NodeSocket.NetSocket), (connection) => {
          if (Option.isSome(connection)) coalesceWrites(connection.value)
          return handler(socket)
        })
      )
  })

/**
 * A client socket to `endpoint` with its writes coalesced per turn (as NodeSocket.makeNet, which
 * gives no access to the connection before it is used).
 */
const dial = (endpoint: Endpoint) =>
  NodeSocket.fromDuplex(
    Effect.scopeWith((scope) => {
      let connection: Net.Socket | undefined
      return Effect.zipRight(
        Scope.addFinalizer(scope, Effect.sync(() => {
          if (connection !== undefined && !connection.closed) connection.destroySoon()
        })),
        Effect.async<Net.Socket, Socket.SocketError>((resume) => {
          connection = Net.createConnection({ host: endpoint.host, port: endpoint.port, ...socketOptions })
          coalesceWrites(connection)
          connection.once("connect", () => resume(Effect.succeed(connection!)))
          connection.on("error", (cause) => resume(Effect.fail(new Socket.SocketGenericError({ reason: "Open", cause }))))
        })
      )
    }),
    { openTimeout: connectTimeout }
  )

const listen = (address: string) =>
  Effect.gen(function*() {
    const endpoint = parseAddress(address)
    if (endpoint === undefined) {
      return yield* new Unavailable({ message: `cannot listen on "${address}": expected host:port` })
    }
    const server = yield* NodeSocketServer.make({ host: endpoint.host, port: endpoint.port, ...socketOptions }).pipe(
      Effect.mapError((error) =>
        new Unavailable({ message: `cannot listen on ${address}: ${describeCause(error.cause)}` })
      )
    )
    const protocol = yield* RpcServer.makeProtocolSocketServer.pipe(
      Effect.provideService(SocketServer.SocketServer, coalescingServer(server)),
      Effect.provideService(RpcSerialization.RpcSerialization, framedMsgpack)
    )
    const bound = server.address
    return {
      protocol,
      address: bound._tag === "TcpAddress" ? formatAddress(bound.hostname, bound.port) : bound.path
    }
  })

/**
 * The client protocol. Transient errors are not retried silently: while the peer cannot be
 * reached, requests fail at once with an RpcClientError (callers map it to Unavailable and
 * choose their own retry), and the connection is re-established in the background.
 */
const connect = (address: string) =>
  Effect.gen(function*() {
    const endpoint = parseAddress(address)
    const socket = endpoint === undefined
      ? yield* NodeSocket.fromDuplex(
        Effect.fail(
          new Socket.SocketGenericError({
            reason: "Open",
            cause: new Error(`cannot connect to "${address}": expected host:port`)
          })
        )
      )
      // dial only describes the socket; connection errors surface when the protocol runs it.
      : yield* dial(endpoint)
    return yield* RpcClient.makeProtocolSocket({ retryTransientErrors: false, retrySchedule: reconnectSchedule }).pipe(
      Effect.provideService(Socket.Socket, socket),
      Effect.provideService(RpcSerialization.RpcSerialization, framedMsgpack)
    )
  })

const serve = <Rpcs extends Rpc.Any>(group: RpcGroup.RpcGroup<Rpcs>, address: string) =>
  Effect.gen(function*() {
    const listening = yield* listen(address)
    yield* RpcServer.make(group, { disableTracing: true, concurrency: "unbounded" }).pipe(
      Effect.provideService(RpcServer.Protocol, withoutOneWayReplies(listening.protocol, oneWayTags(group))),
      Effect.interruptible,
      Effect.forkScoped
    )
    return listening.address
  })

const client = <Rpcs extends Rpc.Any>(group: RpcGroup.RpcGroup<Rpcs>, address: string) =>
  Effect.flatMap(connect(address), (protocol) =>
    // The groups served here have no client middleware, so the client needs nothing more.
    (RpcClient.make(group, { disableTracing: true }) as Effect.Effect<GroupClient<Rpcs>, never, RpcClient.Protocol | Scope.Scope>).pipe(
      Effect.provideService(RpcClient.Protocol, protocol)
    ))

export const TcpCommunicator: Layer.Layer<Communicator> = Layer.succeed(
  Communicator,
  Communicator.of({ serve, client })
)
