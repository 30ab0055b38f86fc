/**
 * The `sandstore` command: `node` runs a node, `cluster up` a local cluster, `fs` works with files,
 * `status` and `smoke` check a running cluster.
 */
import { Command } from "@effect/cli"
import { NodeContext, NodeRuntime } from "@effect/platform-node"
import { Cause, Console, Effect } from "effect"
import { benchCommand } from "./benchCommand.ts"
import { chaosCommand } from "./chaosCommand.ts"
import { clusterCommand } from "./clusterCommand.ts"
import { reportFailure, teardown } from "./exitCodes.ts"
import { fsCommand } from "./fsCommand.ts"
import { nodeCommand } from "./nodeCommand.ts"
import { simCommand } from "./simCommand.ts"
import { rebuildCommand } from "./rebuildCommand.ts"
import { smokeCommand } from "./smokeCommand.ts"
import { statusCommand } from "./statusCommand.ts"

const sandstore = Command.make("sandstore").pipe(
  Command.withDescription("a distributed storage system assembled from swappable Effect layers"),
  Command.withSubcommands([
    nodeCommand,
    clusterCommand,
    fsCommand,
    statusCommand,
    smokeCommand,
    benchCommand,
    chaosCommand,
    rebuildCommand,
    simCommand
  ])
)

const cli = Command.run(sandstore, { name: "sandstore", version: "0.1.0" })

cli(process.argv).pipe(
  reportFailure,
  Effect.tapDefect((cause) => Console.error(Cause.pretty(cause))),
  Effect.provide(NodeContext.layer),
  (program) => NodeRuntime.runMain(program, { disableErrorReporting: true, teardown })
)
