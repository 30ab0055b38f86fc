/**
 * `sandstore chaos`: a bounded chaos run (src/chaos/runChaos.ts) against a local cluster of real
 * node processes it starts itself. Prints each fault as it heals, then the summary; exits 0 only
 * if no acknowledged write was lost or applied twice and every check held, 1 otherwise, 2 for
 * bad arguments.
 * Ctrl-C interrupts the run, which stops every node and removes the temporary data dir.
 */
import { Command, HelpDoc, Options, ValidationError } from "@effect/cli"
import { Console, Duration, Effect, Option, Random } from "effect"
import { TcpCommunicator } from "../../layers/transport/tcp.ts"
import { parseDuration } from "../bench/arguments.ts"
import { CliExit, EXIT_FAILURE, EXIT_USAGE } from "./exitCodes.ts"
import { reportLines } from "../chaos/report.ts"
import { type ChaosSettings, runChaos } from "../chaos/runChaos.ts"

const options = {
  nodes: Options.integer("nodes").pipe(Options.withDescription("nodes of the cluster, 3 to 9 (default 3)"), Options.withDefault(3)),
  clients: Options.integer("clients").pipe(Options.withDescription("concurrent clients, 1 to 64 (default 4)"), Options.withDefault(4)),
  duration: Options.text("duration").pipe(
    Options.withDescription("how long clients and faults run (ms, s or m; default 60s)"),
    Options.withDefault("60s"),
    Options.mapEffect((text) =>
      Effect.mapError(parseDuration(text), (message) => ValidationError.invalidValue(HelpDoc.p(message)))
    )
  ),
  loseReplies: Options.float("lose-replies").pipe(
    Options.withDescription("fraction of replies to the clients lost on the way, 0 to 0.5: the SDK resends those requests (default 0.05)"),
    Options.withDefault(0.05)
  ),
  seed: Options.integer("seed").pipe(
    Options.withDescription("seed of the workload and the faults (default: drawn, and printed)"),
    Options.optional
  ),
  dataDir: Options.text("data-dir").pipe(
    Options.withDescription("keep the nodes' data here (default: a temporary directory, removed at the end)"),
    Options.optional
  ),
  basePort: Options.integer("base-port").pipe(
    Options.withDescription("node i listens on base-port + i - 1 (default 0: free ports)"),
    Options.withDefault(0)
  ),
  host: Options.text("host").pipe(Options.withDescription("address the nodes listen on"), Options.withDefault("127.0.0.1")),
  etcd: Options.text("etcd").pipe(
    Options.withDescription("etcd endpoints host:port[,...]: etcd membership instead of the static list"),
    Options.optional
  )
}

/** Why the settings cannot make a run, if they cannot. */
export const invalidSettings = (settings: ChaosSettings): string | undefined =>
  settings.nodes < 3 || settings.nodes > 9
    ? `--nodes must be between 3 and 9 (a fault must leave a majority), got ${settings.nodes}`
    : settings.clients < 1 || settings.clients > 64
    ? `--clients must be between 1 and 64, got ${settings.clients}`
    : !(settings.replyLoss >= 0 && settings.replyLoss <= 0.5)
    ? `--lose-replies must be between 0 and 0.5, got ${settings.replyLoss}`
    : Duration.toMillis(settings.duration) <= 0
    ? "--duration must be longer than 0"
    : settings.basePort < 0 || settings.basePort + settings.nodes - 1 > 65535
    ? `--base-port ${settings.basePort} leaves no room for ${settings.nodes} ports`
    : undefined

export const chaosCommand = Command.make("chaos", options, (o) =>
  Effect.gen(function*() {
    const settings: ChaosSettings = {
      nodes: o.nodes,
      clients: o.clients,
      duration: o.duration,
      seed: Option.isSome(o.seed) ? o.seed.value : yield* Random.nextIntBetween(1, 1_000_000),
      replyLoss: o.loseReplies,
      host: o.host,
      basePort: o.basePort,
      ...(Option.isSome(o.dataDir) ? { dataDir: o.dataDir.value } : {}),
      ...(Option.isSome(o.etcd) ? { etcd: o.etcd.value } : {})
    }
    const invalid = invalidSettings(settings)
    if (invalid !== undefined) {
      yield* Console.error(`sandstore chaos: ${invalid}`)
      return yield* new CliExit({ code: EXIT_USAGE })
    }
    yield* Console.log(`chaos: seed ${settings.seed} (rerun with --seed ${settings.seed})`)
    const report = yield* runChaos(settings, { say: (line) => Console.log(line) }).pipe(
      Effect.onInterrupt(() => Console.error("chaos: interrupted; every node stopped"))
    )
    yield* Console.log(["", ...reportLines(report)].join("\n"))
    if (settings.dataDir !== undefined) yield* Console.log(`data kept in ${report.dataDir}`)
    if (!report.ok) return yield* new CliExit({ code: EXIT_FAILURE })
  }).pipe(Effect.provide(TcpCommunicator))).pipe(
    Command.withDescription(
      "start a local cluster, write and verify files while killing, pausing and restarting nodes and losing replies to the clients; exit 0 only if no acknowledged write was lost, none was applied twice and the history is linearizable"
    )
  )
