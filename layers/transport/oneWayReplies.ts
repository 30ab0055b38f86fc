/**
 * OneWay rpcs (src/protocol/OneWay.ts) get no reply from the server. @effect/rpc's wire format
 * has no "discard" flag, so its server answers every request with an Exit, which a discarding
 * caller reads, decodes and drops: for Raft's messages that doubled the writes and reads per
 * message. The server's protocol is wrapped instead: requests of a OneWay tag are remembered
 * by (connection, id) until their handler's Exit, which is then not sent.
 */
import type { Rpc, RpcGroup, RpcServer } from "@effect/rpc"
import { Context, Effect } from "effect"
import { OneWay } from "../../src/protocol/OneWay.ts"

/** `protocol` without the Exits of requests whose tag is in `oneWay`. */
export const withoutOneWayReplies = (
  protocol: RpcServer.Protocol["Type"],
  oneWay: ReadonlySet<string>
): RpcServer.Protocol["Type"] => {
  if (oneWay.size === 0) return protocol
  const unanswered = new Set<string>()
  return {
    ...protocol,
    run: (handle) =>
      protocol.run((clientId, message) => {
        if (message._tag === "Request" && oneWay.has(message.tag)) unanswered.add(`${clientId}/${message.id}`)
        return handle(clientId, message)
      }),
    send: (clientId, response, transferables) =>
      response._tag === "Exit" && unanswered.delete(`${clientId}/${response.requestId}`)
        ? Effect.void
        : protocol.send(clientId, response, transferables)
  }
}

/** The tags of `group`'s rpcs annotated OneWay. */
export const oneWayTags = <Rpcs extends Rpc.Any>(group: RpcGroup.RpcGroup<Rpcs>): ReadonlySet<string> =>
  new Set(
    [...(group.requests as ReadonlyMap<string, unknown> as ReadonlyMap<string, Rpc.AnyWithProps>).values()]
      .filter((rpc) => Context.get(rpc.annotations, OneWay))
      .map((rpc) => rpc._tag)
  )
