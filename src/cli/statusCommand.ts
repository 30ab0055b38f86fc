/**
 * `sandstore status`: what every seed says about the cluster (src/client/clusterStatus.ts), as a
 * table or JSON; exit 1 unless exactly one node leads.
 */
import { Command, Options } from "@effect/cli"
import { Console, Effect } from "effect"
import { TcpCommunicator } from "../../layers/transport/tcp.ts"
import { askSeeds, type SeedAnswer, verdict } from "../client/clusterStatus.ts"
import { CliExit, EXIT_FAILURE } from "./exitCodes.ts"
import { seedsOption } from "./seedsOption.ts"

/** Rows as columns padded to their widest cell. */
const table = (rows: ReadonlyArray<ReadonlyArray<string>>): Array<string> => {
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]?.length ?? 0)))
  return rows.map((row) => row.map((cell, column) => cell.padEnd(widths[column]!)).join("  ").trimEnd())
}

/** The human-readable report: one row per seed, then the members as the first answer lists them. */
export const statusLines = (answers: ReadonlyArray<SeedAnswer>): Array<string> => {
  const rows = answers.map((answer) => {
    if (answer._tag === "Unreachable") return ["-", answer.seed, "unreachable", "", "", "", "", "", "", answer.reason]
    const { node, replicator } = answer.topology.self
    return [
      node.id,
      node.address,
      replicator.role,
      String(replicator.term),
      replicator.leaderId ?? "-",
      String(replicator.commitIndex),
      String(replicator.appliedIndex),
      String(replicator.lastIndex),
      String(replicator.snapshotIndex),
      ""
    ]
  })
  const lines = table([["NODE", "ADDRESS", "ROLE", "TERM", "LEADER", "COMMIT", "APPLIED", "LAST", "SNAPSHOT", ""], ...rows])
  const first = answers.find((answer) => answer._tag === "Answered")
  if (first !== undefined) {
    lines.push("", `members (as ${first.topology.self.node.id} sees them, topology ${first.topology.name}):`)
    lines.push(...table([
      ["ID", "ADDRESS", "ALIVE"],
      ...first.topology.members.map((member) => [member.id, member.address, member.alive ? "yes" : "no"])
    ]).map((line) => `  ${line}`))
  }
  return lines
}

/** What `--json` prints: every answer as it came. */
export const statusJson = (answers: ReadonlyArray<SeedAnswer>): string =>
  JSON.stringify(
    answers.map((answer) =>
      answer._tag === "Answered" ? { seed: answer.seed, topology: answer.topology } : { seed: answer.seed, unreachable: answer.reason }
    ),
    null,
    2
  )

const seeds = seedsOption("comma-separated host:port of nodes to ask (every one is asked)")

const json = Options.boolean("json").pipe(Options.withDescription("print every node's raw answer as JSON"))

export const statusCommand = Command.make("status", { seeds, json }, ({ json, seeds }) =>
  Effect.gen(function*() {
    const seedList = seeds.split(",").map((seed) => seed.trim()).filter((seed) => seed !== "")
    const answers = yield* askSeeds(seedList)
    yield* Console.log(json ? statusJson(answers) : statusLines(answers).join("\n"))
    const result = verdict(answers)
    if (!result.healthy) {
      yield* Console.error(`sandstore: ${result.reason}`)
      return yield* new CliExit({ code: EXIT_FAILURE })
    }
  }).pipe(Effect.provide(TcpCommunicator))
).pipe(Command.withDescription("ask every seed (and every member they name) for its view of the cluster; exit 1 unless exactly one node leads"))
