/**
 * `sandstore node`: runs one node until SIGINT/SIGTERM. The runtime interrupts the main fiber
 * on a signal, which closes the topology's scope: servers stop, loops end, files are closed.
 */
import { Command, Options } from "@effect/cli"
import { FileSystem } from "@effect/platform"
import { Effect, Layer, Option } from "effect"
import { Server } from "../services/Server.ts"

const options = {
  id: Options.text("id").pipe(Options.withDescription("node id")),
  listen: Options.text("listen").pipe(Options.withDescription("host:port to serve on (port 0 picks a free one)")),
  dataDir: Options.text("data-dir").pipe(Options.withDescription("directory for the node's data")),
  chunkSize: Options.integer("chunk-size").pipe(Options.withDescription("chunk size in bytes"), Options.optional)
}

/** Logs where the node listens once it is up, and that it stopped once its scope has closed. */
const announce = (id: string) =>
  Layer.scopedDiscard(Effect.gen(function*() {
    const server = yield* Server
    yield* Effect.log(`sandstore node ${id} listening on ${server.address}`)
    yield* Effect.addFinalizer(() => Effect.log(`sandstore node ${id} stopped`))
  }))

export const nodeCommand = Command.make("node", options, ({ chunkSize, dataDir, id, listen }) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    yield* fs.makeDirectory(dataDir, { recursive: true })
    // Loaded here so `sandstore fs ...` starts without the node's storage stack.
    const { StandaloneTopology } = yield* Effect.promise(() => import("../../topologies/standalone.ts"))
    const topology = StandaloneTopology({
      nodeId: id,
      listen,
      dataDir,
      ...(Option.isSome(chunkSize) ? { chunkSize: chunkSize.value } : {})
    })
    return yield* Layer.launch(announce(id).pipe(Layer.provide(topology)))
  })).pipe(Command.withDescription("run a standalone node until SIGINT/SIGTERM"))
