/**
 * `sandstore smoke`: runs the smoke scenario (smoke.ts) against a cluster, printing a line per
 * step as it ends and a summary; exits 0 only if every step held.
 */
import { Command } from "@effect/cli"
import { Console, Effect } from "effect"
import { TcpCommunicator } from "../../layers/transport/tcp.ts"
import { CliExit, EXIT_FAILURE } from "./exitCodes.ts"
import { runSmoke, type StepResult } from "./smoke.ts"
import { seedsOption } from "./seedsOption.ts"

const seeds = seedsOption()

/** `ok   create /smoke-1a2b/a` or `FAIL create /smoke-1a2b/a: ENOENT ...` */
export const stepLine = (step: StepResult): string => (step.ok ? `ok   ${step.name}` : `FAIL ${step.name}: ${step.reason}`)

export const smokeCommand = Command.make("smoke", { seeds }, ({ seeds }) =>
  Effect.gen(function*() {
    const seedList = seeds.split(",").map((seed) => seed.trim()).filter((seed) => seed !== "")
    const report = yield* runSmoke({ seeds: seedList, onStep: (step) => Console.log(stepLine(step)) })
    const failed = report.steps.filter((step) => !step.ok).length
    if (report.passed) {
      yield* Console.log(`smoke: all ${report.steps.length} steps held (run ${report.runId}, ${report.directory} removed)`)
      return
    }
    yield* Console.log(
      `smoke: ${failed} of ${report.steps.length} steps failed (run ${report.runId}, ${report.directory} kept for inspection)`
    )
    return yield* new CliExit({ code: EXIT_FAILURE })
  }).pipe(Effect.provide(TcpCommunicator))).pipe(
    Command.withDescription("run the smoke scenario against a cluster; exit 0 only if every step holds")
  )
