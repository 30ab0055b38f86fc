/**
 * `sandstore sim --seed N [--nodes 3] [--clients 4] [--duration 60s]`: one deterministic
 * whole-cluster simulation (src/sim/run.ts). Prints the seed, simulated duration, operations,
 * faults injected, trace hash and each checker's verdict; on a violation also the offending
 * sub-history, and exits 1. The same seed prints the same trace hash.
 */
import { Command, Options } from "@effect/cli"
import { Console, Duration, Effect, Option } from "effect"
import { passed, reportLines } from "../sim/report.ts"
import { runSimulation } from "../sim/run.ts"
import { CliExit, EXIT_FAILURE, EXIT_USAGE } from "./exitCodes.ts"

const seed = Options.integer("seed").pipe(Options.withDescription("the seed of the run (same seed, same run)"))
const nodes = Options.integer("nodes").pipe(Options.withDefault(3), Options.withDescription("cluster nodes"))
const clients = Options.integer("clients").pipe(Options.withDefault(4), Options.withDescription("concurrent clients"))
const duration = Options.text("duration").pipe(
  Options.withDefault("60s"),
  Options.withDescription("simulated time of workload and faults, e.g. 20s, 2m")
)

/** "60s", "1500ms", "2m" or a plain number of seconds. */
const parseDuration = (text: string): Option.Option<Duration.Duration> => {
  const match = /^(\d+(?:\.\d+)?)\s*(ms|s|m)?$/.exec(text.trim())
  if (match === null) return Option.none()
  const value = Number(match[1])
  const unit = match[2] ?? "s"
  return Option.some(unit === "ms" ? Duration.millis(value) : unit === "m" ? Duration.minutes(value) : Duration.seconds(value))
}

export const simCommand = Command.make("sim", { seed, nodes, clients, duration }, (args) =>
  Effect.gen(function*() {
    const parsed = parseDuration(args.duration)
    if (Option.isNone(parsed) || args.nodes < 1 || args.clients < 1) {
      yield* Console.error(`sandstore: EINVAL: expected --nodes >= 1, --clients >= 1 and a duration like 60s, got ${args.duration}`)
      return yield* new CliExit({ code: EXIT_USAGE })
    }
    const result = yield* runSimulation({
      seed: args.seed,
      nodes: args.nodes,
      clients: args.clients,
      durationMillis: Duration.toMillis(parsed.value)
    })
    for (const line of reportLines(result)) yield* Console.log(line)
    if (!passed(result)) return yield* new CliExit({ code: EXIT_FAILURE })
  })).pipe(Command.withDescription("run a deterministic simulation of a whole cluster under faults; exit 0 only if every check holds"))
