/**
 * `sandstore bench`: runs the bench (runBench.ts) against a cluster, appends a CSV row per phase
 * run to `<out>/<timestamp>.csv` as each one ends (so an interrupted run keeps what it measured),
 * and prints a summary table. A failed pre-flight exits 1 at once; bad arguments exit 2.
 */
import { Command, HelpDoc, Options, ValidationError } from "@effect/cli"
import { FileSystem, Path } from "@effect/platform"
import { Clock, Console, Duration, Effect, Either } from "effect"
import { TcpCommunicator } from "../../layers/transport/tcp.ts"
import { CliExit, EXIT_FAILURE, EXIT_USAGE } from "./exitCodes.ts"
import { seedsOption } from "./seedsOption.ts"
import { parseConcurrency, parseDuration, parsePhases, parseSize } from "../bench/arguments.ts"
import type { PhaseResult } from "../bench/phaseResult.ts"
import { makeProgressLine } from "../bench/progressLine.ts"
import { CSV_HEADER, csvRow, fileTimestamp, summaryTable } from "../bench/report.ts"
import { type BenchReport, runBench } from "../bench/runBench.ts"
import { type BenchSettings, validateSettings } from "../bench/settings.ts"

export interface BenchRun extends BenchSettings {
  readonly seeds: ReadonlyArray<string>
  /** directory of the CSV files, created on demand */
  readonly out: string
  readonly keep: boolean
  /** draw the live progress line (default: when stderr is a terminal) */
  readonly progress?: boolean
}

/** `read c=4: 3 errors, first: ...` for a result with errors. */
const errorLine = (result: PhaseResult): string =>
  `${result.operation} c=${result.concurrency}: ${result.errorCount} error(s), first: ${result.firstError ?? "?"}`

/** The bench with its CSV file and terminal output; resolves with the report and the CSV's path. */
export const bench = (run: BenchRun) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const csvPath = path.join(run.out, `${fileTimestamp(yield* Clock.currentTimeMillis)}.csv`)
    const progressLine = makeProgressLine(run.progress)
    let csvCreated = false

    const onResult = (result: PhaseResult) =>
      Effect.gen(function*() {
        yield* progressLine.clear
        if (!csvCreated) {
          yield* fs.makeDirectory(run.out, { recursive: true })
          yield* fs.writeFileString(csvPath, CSV_HEADER + "\n", { flag: "wx" })
          csvCreated = true
        }
        yield* fs.writeFileString(csvPath, csvRow(result) + "\n", { flag: "a" })
        yield* Console.error(
          `${result.operation} c=${result.concurrency}: ${result.totalOps} ops, ${result.opsPerSec.toFixed(1)} ops/s, ` +
            `${result.errorCount} errors`
        )
      })

    const report: BenchReport = yield* runBench({
      ...run,
      onResult,
      onProgress: progressLine.update,
      log: (line) => Effect.zipRight(progressLine.clear, Console.error(line))
    }).pipe(Effect.onExit(() => progressLine.clear))

    yield* Console.log(summaryTable(report.results).join("\n"))
    for (const result of report.results) if (result.errorCount > 0) yield* Console.log(errorLine(result))
    yield* Console.log(`results: ${csvPath}`)
    if (report.cleanup._tag === "Kept") yield* Console.log(`kept ${report.directory}`)
    return { report, csvPath }
  })

/** An option value through one of arguments.ts's parsers; a bad value is a usage error. */
const parsed = <A>(parse: (text: string) => Either.Either<A, string>) => (text: string) =>
  Effect.mapError(parse(text), (message) => ValidationError.invalidValue(HelpDoc.p(message)))

const textOption = (name: string, fallback: string, description: string) =>
  Options.text(name).pipe(Options.withDescription(`${description} (default ${fallback})`), Options.withDefault(fallback))

const options = {
  seeds: seedsOption(),
  phases: textOption("phases", "write,read,stat,create,listdir", "phases to run, in this order (also: overwrite, random block writes in a file of --file-size per worker)").pipe(
    Options.mapEffect(parsed(parsePhases))
  ),
  concurrency: textOption("concurrency", "1,16", "concurrent workers; each phase runs at each level").pipe(
    Options.mapEffect(parsed(parseConcurrency))
  ),
  duration: textOption("duration", "60s", "timed window of each phase run (ms, s or m)").pipe(
    Options.mapEffect(parsed(parseDuration))
  ),
  warmup: textOption("warmup", "5s", "untimed window before it").pipe(Options.mapEffect(parsed(parseDuration))),
  blockSize: textOption("block-size", "4KiB", "bytes per write and read (B, KiB, MiB, GiB)").pipe(
    Options.mapEffect(parsed(parseSize))
  ),
  fileSize: textOption("file-size", "64MiB", "a writer moves on to a new file at this size").pipe(
    Options.mapEffect(parsed(parseSize))
  ),
  listdirEntries: Options.integer("listdir-entries").pipe(
    Options.withDescription("entries in the directory listdir lists (default 1000)"),
    Options.withDefault(1000)
  ),
  out: textOption("out", "results/bench", "directory of the CSV files"),
  keep: Options.boolean("keep").pipe(Options.withDescription("keep the run's /bench-<id> directory"))
}

export const benchCommand = Command.make("bench", options, (args) =>
  Effect.gen(function*() {
    const seeds = args.seeds.split(",").map((seed) => seed.trim()).filter((seed) => seed !== "")
    const run: BenchRun = { ...args, seeds }
    const invalid = validateSettings(run)
    if (Either.isLeft(invalid)) {
      yield* Console.error(`sandstore bench: ${invalid.left}`)
      return yield* new CliExit({ code: EXIT_USAGE })
    }
    yield* Console.error(
      `bench: ${run.phases.join(",")} at concurrency ${run.concurrency.join(",")}, ${Duration.format(run.duration)} each ` +
        `${Duration.isZero(run.warmup) ? "without" : `after ${Duration.format(run.warmup)}`} warm-up, ${run.blockSize} B blocks, ` +
        `against ${seeds.join(",")}`
    )
    yield* bench(run).pipe(
      Effect.catchTags({
        PreflightFailed: (error) => Effect.zipRight(Console.error(`sandstore bench: ${error.message}`), new CliExit({ code: EXIT_FAILURE })),
        BenchFailed: (error) => Effect.zipRight(Console.error(`sandstore bench: ${error.message}`), new CliExit({ code: EXIT_FAILURE }))
      })
    )
  }).pipe(Effect.provide(TcpCommunicator))).pipe(
    Command.withDescription("measure latency and throughput of write, read, stat, create and listdir against a cluster")
  )
