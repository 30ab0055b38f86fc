/**
 * An in-process standalone node on a fresh temp dir, and SDK clients connected to it. Both are
 * scoped: closing the scope stops the node, then removes its directory.
 */
import { Context, Effect, Layer } from "effect"
import { tempDir } from "./tempDir.ts"
import { TcpCommunicator } from "../../layers/transport/tcp.ts"
import { type ClientSettings, SandstoreClient, type SandstoreClientShape } from "../../src/client/SandstoreClient.ts"
import { Server } from "../../src/services/Server.ts"
import { StandaloneTopology } from "../../topologies/standalone.ts"

export const MiB = 1024 * 1024

export { tempDir } from "./tempDir.ts"

/** A running standalone node (1 MiB chunks unless told otherwise); resolves with its address. */
export const standaloneNode = (options: { readonly chunkSize?: number } = {}) =>
  Effect.gen(function*() {
    const dataDir = yield* tempDir("sandstore-client-test-")
    const context = yield* Layer.build(
      StandaloneTopology({ nodeId: "n1", listen: "127.0.0.1:0", dataDir, chunkSize: options.chunkSize ?? MiB })
    )
    return Context.get(context, Server).address
  })

/** An SDK client of the node(s) at `seeds`, closed with the scope. */
export const clientOf = (seeds: ReadonlyArray<string>, settings: ClientSettings = {}) =>
  Effect.map(
    Layer.build(SandstoreClient.layer({ ...settings, seeds }).pipe(Layer.provide(TcpCommunicator))),
    (context): SandstoreClientShape => Context.get(context, SandstoreClient)
  )

export { patternBytes } from "./bytes.ts"

/**
 * Where two byte arrays first differ (-1 when equal), for assertions on MiB-sized data: vitest's
 * deep equality walks typed arrays element by element and takes seconds per MiB.
 */
export const firstDifference = (actual: Uint8Array, expected: Uint8Array): number => {
  if (Buffer.compare(actual, expected) === 0) return -1
  const n = Math.min(actual.length, expected.length)
  for (let i = 0; i < n; i++) if (actual[i] !== expected[i]) return i
  return n
}
