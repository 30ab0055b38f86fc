/**
 * The `sandstore` command: `sandstore node ...` runs a node, `sandstore fs ...` talks to one.
 */
import { Command } from "@effect/cli"
import { NodeContext, NodeRuntime } from "@effect/platform-node"
import { Cause, Console, Effect } from "effect"
import { reportFailure, teardown } from "./exitCodes.ts"
import { fsCommand } from "./fsCommand.ts"
import { nodeCommand } from "./nodeCommand.ts"

const sandstore = Command.make("sandstore").pipe(
  Command.withDescription("a distributed storage system assembled from swappable Effect layers"),
  Command.withSubcommands([nodeCommand, fsCommand])
)

const cli = Command.run(sandstore, { name: "sandstore", version: "0.1.0" })

cli(process.argv).pipe(
  reportFailure,
  Effect.tapDefect((cause) => Console.error(Cause.pretty(cause))),
  Effect.provide(NodeContext.layer),
  (program) => NodeRuntime.runMain(program, { disableErrorReporting: true, teardown })
)
