import { Rpc, RpcGroup } from "@effect/rpc"
import { describe, expect, it } from "@effect/vitest"
import { Context, Effect, Layer, Schema } from "effect"
import type { Inbox } from "../../src/lib/inbox.ts"
import { RaftApiHandlers, RaftTransportRpc } from "../../layers/raftTransport/rpc.ts"
import { TcpCommunicator } from "../../layers/transport/tcp.ts"
import { NotFound } from "../../src/domain/errors.ts"
import { MAX_MESSAGES_PER_CALL, RaftApi } from "../../src/protocol/RaftApi.ts"
import type { Message } from "../../src/raft/types.ts"
import { Communicator } from "../../src/services/Communicator.ts"
import { EndpointResolver } from "../../src/services/EndpointResolver.ts"
import { RaftTransport } from "../../src/services/RaftTransport.ts"

const envelope = { from: "a", to: "b", term: 7 }
const bytes = (length: number, seed: number) => Uint8Array.from({ length }, (_, i) => (i * 31 + seed) & 0xff)

/** One message of every variant, with binary payloads that must survive byte for byte. */
const everyVariant: ReadonlyArray<Message> = [
  { _tag: "PreVote", ...envelope, lastLogIndex: 10, lastLogTerm: 6 },
  { _tag: "PreVoteResponse", ...envelope, granted: true },
  { _tag: "RequestVote", ...envelope, lastLogIndex: 11, lastLogTerm: 7 },
  { _tag: "RequestVoteResponse", ...envelope, granted: false },
  {
    _tag: "AppendEntries", ...envelope, prevLogIndex: 9, prevLogTerm: 6, leaderCommit: 8, readContext: 3,
    entries: [
      { index: 10, term: 7, type: "noop", data: new Uint8Array(0) },
      { index: 11, term: 7, type: "normal", data: bytes(300, 1) },
      { index: 12, term: 7, type: "normal", data: bytes(70_000, 2) }
    ]
  },
  { _tag: "AppendEntriesResponse", ...envelope, success: false, matchIndex: 4, conflictTerm: 5, conflictIndex: 3, readContext: 2 },
  {
    _tag: "InstallSnapshot", ...envelope, snapshotIndex: 1000, snapshotTerm: 6, offset: 4096, totalBytes: 9000,
    data: bytes(4096, 3), done: false
  },
  { _tag: "InstallSnapshotResponse", ...envelope, snapshotIndex: 1000, nextOffset: 8192, done: false }
]

const resolverOf = (addresses: Record<string, string>) =>
  Layer.succeed(EndpointResolver, EndpointResolver.of({
    resolve: (nodeId) =>
      nodeId in addresses ? Effect.succeed(addresses[nodeId]!) : Effect.fail(new NotFound({ message: `no node ${nodeId}` }))
  }))

/** Node "b": its transport, and an RpcServer serving RaftApi into its inbox. Resolves with b's transport and address. */
const receiver = Effect.gen(function*() {
  const transport = RaftTransportRpc().pipe(Layer.provide(resolverOf({})))
  const context = yield* Layer.build(transport)
  const address = yield* (yield* Communicator).serve(RaftApi, "127.0.0.1:0").pipe(
    Effect.provide(RaftApiHandlers.pipe(Layer.provide(Layer.succeedContext(context))))
  )
  return { transport: Context.get(context, RaftTransport), address }
})

const sender = (addresses: Record<string, string>) =>
  Effect.map(Layer.build(RaftTransportRpc().pipe(Layer.provide(resolverOf(addresses)))), (context) =>
    Context.get(context, RaftTransport))

/** The next `n` messages of `inbox`, waiting for them to arrive. */
const takeN = (inbox: Inbox<Message>, n: number) =>
  Effect.gen(function*() {
    const taken: Array<Message> = []
    while (taken.length < n) taken.push(...yield* inbox.takeAll)
    return taken
  })

/** The same rpc tag with no schema on its payload: lets a test put anything on the wire. */
class Unchecked extends Rpc.make("RaftMessages", { payload: Schema.Unknown }) {}
const UncheckedApi = RpcGroup.make(Unchecked)

describe("RaftApi over TCP", () => {
  it.scopedLive("carries every message variant intact, including binary data", () =>
    Effect.gen(function*() {
      const b = yield* receiver
      const a = yield* sender({ b: b.address })
      yield* a.send(everyVariant)
      const arrived = yield* takeN(b.transport.incoming, everyVariant.length)
      expect(arrived).toEqual(everyVariant)
      const entries = arrived.find((m) => m._tag === "AppendEntries")
      expect(entries?._tag === "AppendEntries" && entries.entries[2]!.data).toBeInstanceOf(Uint8Array)
    }).pipe(Effect.provide(TcpCommunicator)))

  it.scopedLive("a peer that cannot be reached or resolved costs the sender nothing; others still get through", () =>
    Effect.gen(function*() {
      const b = yield* receiver
      // c's port is closed and d is unknown to the resolver: their messages are dropped.
      const a = yield* sender({ b: b.address, c: "127.0.0.1:1" })
      for (let i = 0; i < 5000; i++) {
        yield* a.send([{ ...everyVariant[1]!, to: "c" }])
        yield* a.send([{ ...everyVariant[1]!, to: "d" }])
      }
      yield* a.send([everyVariant[0]!])
      expect(yield* takeN(b.transport.incoming, 1)).toEqual([everyVariant[0]])
    }).pipe(Effect.provide(TcpCommunicator)))

  it.scopedLive("a malformed message is rejected at decode and the connection keeps working", () =>
    Effect.gen(function*() {
      const b = yield* receiver
      const raw = yield* (yield* Communicator).client(UncheckedApi, b.address)
      const negativeTerm = { ...everyVariant[0]!, term: -1 }
      const unknownTag = { ...envelope, _tag: "Gossip" }
      const missingField = { _tag: "AppendEntries", ...envelope }
      const tooMany = Array.from({ length: MAX_MESSAGES_PER_CALL + 1 }, () => everyVariant[3])
      // RaftMessages is OneWay: no reply tells of a rejection, so only what reaches the inbox shows it.
      for (const messages of [[negativeTerm], [unknownTag], [everyVariant[3], missingField], [null], tooMany]) {
        yield* raw.RaftMessages({ messages }, { discard: true })
      }
      for (const payload of [null, everyVariant[3], { messages: "x" }]) {
        yield* raw.RaftMessages(payload, { discard: true })
      }
      // Requests on one connection are handled in order: the valid one comes after every rejection,
      // and a batch is all or nothing (the valid message before the malformed one was not delivered).
      yield* raw.RaftMessages({ messages: [everyVariant[4]] }, { discard: true })
      expect(yield* takeN(b.transport.incoming, 1)).toEqual([everyVariant[4]])
      expect(b.transport.incoming.size).toBe(0)
    }).pipe(Effect.provide(TcpCommunicator)))
})
