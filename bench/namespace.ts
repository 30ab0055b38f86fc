/**
 * Does metadata cost stay flat as the namespace grows? (`npm run bench:namespace`)
 *
 * A 3-node hyperconverged cluster (real `sandstore node` processes, temp dirs) is filled with
 * `--files` empty files spread evenly over `--dirs` directories by `--concurrency` clients,
 * each creating its own names. Before the fill and at the end it measures, with the same
 * clients: stat of existing files (p50/p99) and readdir of a directory holding 1,000 entries
 * (made first, so its size is the same both times). While filling it prints create/s every
 * `--report-every` files, with the nodes' CPU per create, so a slowdown (a snapshot of the
 * whole store, a deeper LevelDB) shows where it starts. Everything is removed at the end.
 *
 * Run: npm run bench:namespace [-- --files 1000000 --dirs 1000 --concurrency 64]
 */
import { NodeContext, NodeRuntime } from "@effect/platform-node"
import { Clock, Console, Effect, Either } from "effect"
import { TcpCommunicator } from "../layers/transport/tcp.ts"
import { LatencySamples, summarize } from "../src/cli/bench/latencies.ts"
import { connectClient } from "../src/cli/bench/preflight.ts"
import { BenchFailed } from "../src/cli/bench/runBench.ts"
import { CliExit, EXIT_USAGE, teardown } from "../src/cli/exitCodes.ts"
import { O_CREAT, O_EXCL, O_WRONLY } from "../src/client/OpenFlags.ts"
import type { SandstoreClientShape } from "../src/client/SandstoreClient.ts"
import { startCluster } from "../test/support/cluster.ts"
import { processCpuSeconds } from "./compare/processCpu.ts"
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

  const rows: Array<{ readonly files: number; readonly perSec: number; readonly cpuMillis: number }> = []
  for (let done = small; done < settings.files;) {
    const to = Math.min(settings.files, done + settings.reportEvery)
    const cpuBefore = yield* cpu
    const start = yield* Clock.currentTimeMillis
    yield* spread(clients, done, to, (client, k) => createEmpty(client, fileName(settings, k)))
    const seconds = ((yield* Clock.currentTimeMillis) - start) / 1000
    const row = { files: to, perSec: (to - done) / seconds, cpuMillis: ((yield* cpu) - cpuBefore) * 1000 / (to - done) }
    rows.push(row)
    yield* log(`  ${row.files} files: ${row.perSec.toFixed(0)} creates/s, ${row.cpuMillis.toFixed(2)} CPU ms per create (3 nodes)`)
    done = to
  }
  const after = yield* measureReads(clients, settings.files, settings)
  const early = rows[0]
  const late = rows[rows.length - 1]
  yield* Console.log([
    "",
    `| files | creates/s | CPU ms/create | stat p50 ms | stat p99 ms | readdir ${LISTED_ENTRIES} ms |`,
    "| ---: | ---: | ---: | ---: | ---: | ---: |",
    `| ${small} | ${early?.perSec.toFixed(0) ?? "–"} | ${early?.cpuMillis.toFixed(2) ?? "–"} | ${ms(before.stat?.p50)} | ${ms(before.stat?.p99)} | ${ms(before.readdir)} |`,
    `| ${settings.files} | ${late?.perSec.toFixed(0) ?? "–"} | ${late?.cpuMillis.toFixed(2) ?? "–"} | ${ms(after.stat?.p50)} | ${ms(after.stat?.p99)} | ${ms(after.readdir)} |`,
    "",
    `the last ${settings.reportEvery} creates: ${early && late ? (late.perSec / early.perSec).toFixed(2) : "–"}× the creates/s and ` +
      `${early && late ? (late.cpuMillis / early.cpuMillis).toFixed(2) : "–"}× the CPU per create of the first ones ` +
      `(which include the nodes' warm-up); stat p99 ${before.stat && after.stat ? (after.stat.p99 / before.stat.p99).toFixed(2) : "–"}× that at ${small} files`
  ].join("\n"))
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
