/**
 * Does metadata cost stay flat as the namespace grows? (`npm run bench:namespace`)
 *
 * A 3-node hyperconverged cluster (real `sandstore node` processes, temp dirs) is filled with
 * `--files` empty files spread evenly over `--dirs` directories by `--concurrency` clients,
 * each creating its own names. Before the fill and at the end it measures, with the same
 * clients: stat of existing files (p50/p99) and readdir of a directory holding 1,000 entries
 * (made first, so its size is the same both times). While filling it prints create/s every
 * `--report-every` files, with the nodes' CPU per create and the creates' p99, so a slowdown (a
 * snapshot of the whole store, a deeper LevelDB) shows where it starts; a window in which some
 * node took a metadata snapshot is marked, and the end compares the create p99 of those windows
 * with that of the others. Last (`--lag-files`), one follower is stopped while that many more
 * files are created, so that the log it needs is compacted away, and restarted: it catches up by
 * a snapshot of the whole namespace, encoded and sent by the leader while creates go on, whose
 * p99 is compared with that before. Everything is removed at the end.
 *
 * Run: npm run bench:namespace [-- --files 1000000 --dirs 1000 --concurrency 64]
 */
import { NodeContext, NodeRuntime } from "@effect/platform-node"
import { Clock, Console, Effect, Either } from "effect"
import { TcpCommunicator } from "../layers/transport/tcp.ts"
import { LatencySamples, summarize } from "../src/bench/latencies.ts"
import { connectClient } from "../src/bench/preflight.ts"
import { BenchFailed } from "../src/bench/runBench.ts"
import { CliExit, EXIT_USAGE, teardown } from "../src/cli/exitCodes.ts"
import { askSeeds } from "../src/client/clusterStatus.ts"
import { O_CREAT, O_EXCL, O_WRONLY } from "../src/client/OpenFlags.ts"
import type { SandstoreClientShape } from "../src/client/SandstoreClient.ts"
import { startCluster, type TestCluster } from "../test/support/cluster.ts"
import { processCpuSeconds } from "./compare/processCpu.ts"
import { processPeakRssBytes } from "./namespace/peakMemory.ts"
import { type NamespaceSettings as Settings, parseNamespaceArguments, USAGE } from "./namespace/settings.ts"

/** Entries of the directory readdir lists, both times. */
const LISTED_ENTRIES = 1000
/** Stats sampled at each measuring point. */
const STAT_SAMPLES = 2000

const fail = (message: string) => new BenchFailed({ message })

const createEmpty = (client: SandstoreClientShape, path: string) =>
  Effect.scoped(Effect.flatMap(client.openScoped(path, O_CREAT | O_EXCL | O_WRONLY), (handle) => handle.close)).pipe(
    Effect.mapError((error) => fail(`create ${path}: ${error.message}`))
  )

const fileName = (settings: Settings, k: number) => `/ns/d${k % settings.dirs}/f${k}`

/** Runs `operation(k)` for k in [from, to) on the clients, each taking the next k as it finishes one. */
const spread = (
  clients: ReadonlyArray<SandstoreClientShape>,
  from: number,
  to: number,
  operation: (client: SandstoreClientShape, k: number) => Effect.Effect<void, BenchFailed>
) => {
  let next = from
  return Effect.forEach(clients, (client) =>
    Effect.gen(function*() {
      while (next < to) yield* operation(client, next++)
    }), { concurrency: "unbounded", discard: true })
}

const timed = <A, E>(samples: LatencySamples, effect: Effect.Effect<A, E>) =>
  Effect.gen(function*() {
    const start = yield* Clock.currentTimeNanos
    const result = yield* effect
    samples.add(Number((yield* Clock.currentTimeNanos) - start) / 1e6)
    return result
  })

const ms = (value: number | undefined) => (value === undefined ? "–" : value.toFixed(2))

interface Row {
  readonly files: number
  readonly perSec: number
  readonly cpuMillis: number
  /** p99 of the window's creates, ms */
  readonly p99: number
  /** some node compacted its log (flushed its store) during the window */
  readonly snapshot: boolean
}

const median = (values: ReadonlyArray<number>) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]

/** The worst create p99 of a window with a compaction, against the median p99 of the windows without. */
const snapshotComparison = (rows: ReadonlyArray<Row>): string => {
  const withSnapshot = rows.filter((row) => row.snapshot).map((row) => row.p99)
  const without = median(rows.filter((row) => !row.snapshot).map((row) => row.p99))
  if (withSnapshot.length === 0) return "no window had a log compaction"
  const worst = Math.max(...withSnapshot)
  return `create p99: worst of the ${withSnapshot.length} windows with a log compaction ${worst.toFixed(1)} ms, median of the others ` +
    (without === undefined ? "– (none)" : `${without.toFixed(1)} ms (${(worst / without).toFixed(2)}×)`)
}

/**
 * stat p50/p99 over existing files (16 clients, after an unmeasured pass that warms the nodes'
 * code up) and one readdir of the 1,000-entry directory (best of 5).
 */
const measureReads = (clients: ReadonlyArray<SandstoreClientShape>, existing: number, settings: Settings) =>
  Effect.gen(function*() {
    const step = Math.max(1, Math.floor(existing / STAT_SAMPLES))
    const statPass = (samples: LatencySamples) =>
      spread(clients.slice(0, 16), 0, Math.min(STAT_SAMPLES, existing), (client, k) =>
        timed(samples, client.stat(fileName(settings, k * step))).pipe(
          Effect.asVoid,
          Effect.mapError((error) => fail(`stat: ${error.message}`))
        ))
    yield* statPass(new LatencySamples())
    const stats = new LatencySamples()
    yield* statPass(stats)
    const listings = new LatencySamples()
    for (let round = 0; round < 5; round++) {
      const names = yield* timed(listings, clients[0]!.readdir("/ns/listed")).pipe(
        Effect.mapError((error) => fail(`readdir: ${error.message}`))
      )
      if (names.length !== LISTED_ENTRIES) return yield* fail(`readdir listed ${names.length} entries, not ${LISTED_ENTRIES}`)
    }
    return { stat: summarize(stats), readdir: listings.sorted()[0]! }
  })

/** Creates per window while a restarted follower catches up; windows at most. */
const CATCH_UP_WINDOW = 2000
const CATCH_UP_WINDOWS = 60

/**
 * Stop one follower, create `lagFiles` more files (the leader compacts its log past what the
 * follower holds), restart it, and go on creating in windows until it has caught up (by a
 * snapshot of the whole namespace); the create p99 meanwhile against `baseline`.
 */
const catchUpBySnapshot = (
  cluster: TestCluster,
  clients: ReadonlyArray<SandstoreClientShape>,
  settings: Settings,
  baseline: number | undefined,
  log: (line: string) => Effect.Effect<void>
) =>
  Effect.gen(function*() {
    const leader = yield* cluster.leader.pipe(Effect.mapError((error) => fail(error.message)))
    yield* log(`catch-up: ${leader} leads`)
    const follower = cluster.ids.find((id) => id !== leader)!
    const statusOf = (id: string) =>
      Effect.flatMap(askSeeds([cluster.addresses[cluster.ids.indexOf(id)]!]), ([answer]) =>
        answer?._tag === "Answered" ? Effect.succeed(answer.topology.self.replicator) : Effect.fail(fail(`${id} does not answer`)))
    /** What the nodes logged about snapshots and trouble, to explain the figures (or a failure). */
    const nodeNotes = () =>
      cluster.ids.flatMap((id) =>
        cluster.node(id).output().split("\n").filter((line) => /snapshot|stalled|not leading|error|leader|term|elect|vote/i.test(line))
          .slice(-4).map((line) => `  ${id}: ${line.trim().slice(0, 240)}`))
    const first = settings.files + LISTED_ENTRIES
    const held = (yield* statusOf(follower)).appliedIndex
    yield* cluster.node(follower).kill("SIGKILL")
    yield* log(`catch-up: ${follower} stopped; creating ${settings.lagFiles} files without it`)
    yield* spread(clients, first, first + settings.lagFiles, (client, k) => createEmpty(client, fileName(settings, k)))
    // The log it needs is gone from the leader's if compacted past what it holds: a snapshot then.
    const compacted = (yield* statusOf(leader)).snapshotIndex
    const how = compacted > held
      ? `by a snapshot: the leader's log was compacted to ${compacted}, past its ${held}`
      : `from the log: the leader's log still reached back to its ${held} (raise --lag-files)`
    yield* cluster.start(follower)
    const started = yield* Clock.currentTimeMillis
    const latencies = new LatencySamples()
    let next = first + settings.lagFiles
    let silentLeader = 0
    /** Creates completed in each second since the restart: a stall shows as a gap. */
    const perSecond: Array<number> = []
    for (let window = 0; window < CATCH_UP_WINDOWS; window++) {
      yield* spread(clients, next, next + CATCH_UP_WINDOW, (client, k) =>
        Effect.flatMap(timed(latencies, createEmpty(client, fileName(settings, k))), () =>
          Effect.map(Clock.currentTimeMillis, (now) => {
            const second = Math.floor((now - started) / 1000)
            perSecond[second] = (perSecond[second] ?? 0) + 1
          })))
      next += CATCH_UP_WINDOW
      const mine = yield* Effect.option(statusOf(follower))
      const theirs = yield* Effect.option(statusOf(leader))
      if (theirs._tag === "None") {
        silentLeader++
        continue
      }
      if (mine._tag === "Some" && mine.value.appliedIndex >= theirs.value.commitIndex - CATCH_UP_WINDOW) {
        const seconds = ((yield* Clock.currentTimeMillis) - started) / 1000
        const p99 = summarize(latencies)?.p99 ?? 0
        const peak = yield* Effect.option(processPeakRssBytes(cluster.node(follower).process.pid!))
        const memory = peak._tag === "Some" ? `, its peak memory ${(peak.value / 1048576).toFixed(0)} MiB` : ""
        const line = `catch-up: ${follower} restarted and caught up in ${seconds.toFixed(1)} s ` +
          `(${how}${memory}); ` +
          `create p99 meanwhile ${p99.toFixed(1)} ms, max ${(latencies.sorted().at(-1) ?? 0).toFixed(0)} ms` +
          (silentLeader === 0 ? "" : `, the leader did not answer status ${silentLeader} time(s)`) +
          (baseline === undefined ? "" : `, ${(p99 / baseline).toFixed(2)}× the last fill window's ${baseline.toFixed(1)} ms`)
        yield* log(line)
        yield* log(`catch-up: creates completed per second since the restart: ${Array.from(perSecond, (n) => n ?? 0).join(" ")}`)
        yield* log(nodeNotes().join("\n"))
        return line
      }
    }
    yield* log(nodeNotes().join("\n"))
    return yield* fail(`${follower} did not catch up within ${CATCH_UP_WINDOWS * CATCH_UP_WINDOW} more creates`)
  })

const program = Effect.gen(function*() {
  const parsed = parseNamespaceArguments(process.argv.slice(2))
  if (Either.isLeft(parsed)) {
    yield* Console.error(`bench:namespace: ${parsed.left}\n${USAGE}`)
    return yield* Effect.fail(new CliExit({ code: EXIT_USAGE }))
  }
  if (parsed.right === "help") return yield* Console.log(USAGE)
  const settings = parsed.right
  const log = (line: string) => Console.error(line)

  yield* log(`bench:namespace: ${settings.files} files in ${settings.dirs} directories, ${settings.concurrency} clients`)
  const cluster = yield* startCluster({ nodes: 3 })
  yield* cluster.leader
  const pids = cluster.ids.map((id) => cluster.node(id).process.pid!)
  const cpu = processCpuSeconds(pids).pipe(Effect.mapError((error) => fail(error.message)))
  const clients = yield* Effect.forEach(Array.from({ length: settings.concurrency }), () => connectClient(cluster.addresses), {
    concurrency: "unbounded"
  }).pipe(Effect.mapError((error) => fail(`connecting: ${error.message}`)))
  const first = clients[0]!
  const mkdir = (path: string) => first.mkdir(path, { recursive: true }).pipe(Effect.mapError((error) => fail(`mkdir ${path}: ${error.message}`)))

  yield* mkdir("/ns/listed")
  yield* spread(clients, 0, LISTED_ENTRIES, (client, k) => createEmpty(client, `/ns/listed/e${k}`))
  yield* spread(clients, 0, settings.dirs, (client, k) =>
    client.mkdir(`/ns/d${k}`).pipe(Effect.asVoid, Effect.mapError((error) => fail(`mkdir: ${error.message}`))))
  // The first files, then the reads at the small size.
  const small = Math.min(settings.files, 1000)
  yield* spread(clients, 0, small, (client, k) => createEmpty(client, fileName(settings, k)))
  const before = yield* measureReads(clients, small, settings)
  yield* log(`at ${small} files: stat p50 ${ms(before.stat?.p50)} ms, p99 ${ms(before.stat?.p99)} ms; readdir of ${LISTED_ENTRIES} entries ${ms(before.readdir)} ms`)

  /** Each node's compaction point, as one string: it changes when any node compacts its log. */
  const snapshotMarks = Effect.map(askSeeds(cluster.addresses), (answers) =>
    answers.map((answer) => (answer._tag === "Answered" ? answer.topology.self.replicator.snapshotIndex : "?")).join(","))
  const rows: Array<Row> = []
  for (let done = small; done < settings.files;) {
    const to = Math.min(settings.files, done + settings.reportEvery)
    const cpuBefore = yield* cpu
    const marksBefore = yield* snapshotMarks
    const start = yield* Clock.currentTimeMillis
    const latencies = new LatencySamples()
    yield* spread(clients, done, to, (client, k) => timed(latencies, createEmpty(client, fileName(settings, k))))
    const seconds = ((yield* Clock.currentTimeMillis) - start) / 1000
    const row: Row = {
      files: to,
      perSec: (to - done) / seconds,
      cpuMillis: ((yield* cpu) - cpuBefore) * 1000 / (to - done),
      p99: summarize(latencies)?.p99 ?? 0,
      snapshot: (yield* snapshotMarks) !== marksBefore
    }
    rows.push(row)
    yield* log(
      `  ${row.files} files: ${row.perSec.toFixed(0)} creates/s, ${row.cpuMillis.toFixed(2)} CPU ms per create (3 nodes), ` +
        `create p99 ${row.p99.toFixed(1)} ms${row.snapshot ? " (a node compacted its log)" : ""}`
    )
    done = to
  }
  const after = yield* measureReads(clients, settings.files, settings)
  const catchUp = settings.lagFiles > 0
    ? yield* catchUpBySnapshot(cluster, clients, settings, rows[rows.length - 1]?.p99, log).pipe(
      // The figures above still count: report the failure in the table instead of losing them.
      Effect.catchAll((error) => Effect.succeed(`catch-up by snapshot FAILED: ${error.message}` as const))
    )
    : "catch-up by snapshot: skipped (--lag-files 0)"
  const early = rows[0]
  const late = rows[rows.length - 1]
  yield* Console.log([
    "",
    `| files | creates/s | CPU ms/create | stat p50 ms | stat p99 ms | readdir ${LISTED_ENTRIES} ms |`,
    "| ---: | ---: | ---: | ---: | ---: | ---: |",
    `| ${small} | ${early?.perSec.toFixed(0) ?? "–"} | ${early?.cpuMillis.toFixed(2) ?? "–"} | ${ms(before.stat?.p50)} | ${ms(before.stat?.p99)} | ${ms(before.readdir)} |`,
    `| ${settings.files} | ${late?.perSec.toFixed(0) ?? "–"} | ${late?.cpuMillis.toFixed(2) ?? "–"} | ${ms(after.stat?.p50)} | ${ms(after.stat?.p99)} | ${ms(after.readdir)} |`,
    "",
    snapshotComparison(rows),
    catchUp,
    "",
    `the last ${settings.reportEvery} creates: ${early && late ? (late.perSec / early.perSec).toFixed(2) : "–"}× the creates/s and ` +
      `${early && late ? (late.cpuMillis / early.cpuMillis).toFixed(2) : "–"}× the CPU per create of the first ones ` +
      `(which include the nodes' warm-up); stat p99 ${before.stat && after.stat ? (after.stat.p99 / before.stat.p99).toFixed(2) : "–"}× that at ${small} files`
  ].join("\n"))
  if (catchUp.startsWith("catch-up by snapshot FAILED")) return yield* new CliExit({ code: 1 })
}).pipe(Effect.scoped)

program.pipe(
  Effect.catchAll((error) =>
    error instanceof CliExit
      ? Effect.fail(error)
      : Effect.zipRight(Console.error(`bench:namespace: ${"message" in error ? String(error.message) : String(error)}`), Effect.fail(new CliExit({ code: 1 })))),
  Effect.provide(TcpCommunicator),
  Effect.provide(NodeContext.layer),
  (main) => NodeRuntime.runMain(main, { disableErrorReporting: true, teardown })
)
