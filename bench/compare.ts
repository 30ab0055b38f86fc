/**
 * Sandstore next to etcd and next to the disk, in one run on one machine (`npm run bench:compare`):
 *
 *  1. a 3-member etcd (loopback, temp dirs): puts of 256-byte values under new keys, then
 *     linearizable gets of one existing key, at each client count, then the cluster is stopped;
 *  2. a 3-node hyperconverged Sandstore cluster with static membership (real `sandstore node`
 *     processes): creates of new files, then stats of existing files, at the same client
 *     counts, then one large file written and read sequentially in whole-chunk pieces, then
 *     4 KiB durable writes at random offsets of a 64 MiB file (with the bytes the nodes wrote to
 *     storage per write), then the cluster is stopped;
 *  3. the disk: the same large file with node:fs, write + fsync, then read;
 *  4. the loopback network: the same large file over one plain TCP connection, sent then received.
 *
 * Every small-operation row also reports the CPU time of the 3 server processes (summed, from
 * /proc) per operation, the figure to steer by on a shared machine.
 *
 * The table (ratios Sandstore / etcd, Sandstore / disk and Sandstore / loopback) is printed, written to
 * results/compare/<timestamp>.md and results/compare/latest.md, and copied into the README
 * between its compare markers. Every process and temp dir is removed at the end, on failure
 * and on Ctrl-C alike (each lives in a scope).
 *
 * Run: npm run bench:compare [-- --duration 10s --warmup 2s --prime 15s --concurrency 1,16,64 --file-size 256MiB --small-only]
 */
import { FileSystem } from "@effect/platform"
import { NodeContext, NodeRuntime } from "@effect/platform-node"
import { Clock, Console, Duration, Effect, Either } from "effect"
import { existsSync } from "node:fs"
import { cpus, platform, release } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { TcpCommunicator } from "../layers/transport/tcp.ts"
import { fileTimestamp } from "../src/bench/report.ts"
import { BenchFailed } from "../src/bench/runBench.ts"
import { CliExit, EXIT_FAILURE, EXIT_USAGE, teardown } from "../src/cli/exitCodes.ts"
import { describeAllocator, rerunWithAllocatorSettings } from "../src/lib/allocatorEnv.ts"
import { nodeHeapArgs } from "../src/lib/nodeHeapArgs.ts"
import { crc32c, crc32cImplementation } from "../src/lib/crc32c.ts"
import { patternBytes } from "../src/lib/patternBytes.ts"
import { startCluster } from "../test/support/cluster.ts"
import { diskBaseline } from "./compare/diskBaseline.ts"
import { ETCD_BIN, etcdVersion, startEtcdCluster } from "./compare/etcdCluster.ts"
import { type EtcdRow, measureEtcdOps } from "./compare/etcdOps.ts"
import { FilePieces } from "./compare/filePieces.ts"
import { loopbackBaseline } from "./compare/loopbackBaseline.ts"
import { warmMemory } from "./compare/warmMemory.ts"
import { processCpuSeconds } from "./compare/processCpu.ts"
import { processWrittenBytes } from "./compare/processIo.ts"
import { replaceSection } from "./compare/readmeSection.ts"
import type { CompareReport, Machine, SmallOps, SmallOpsRow } from "./compare/results.ts"
import { measureSandstoreOps } from "./compare/sandstoreOps.ts"
import { sandstoreLargeFile, sandstorePieceBytes } from "./compare/sandstoreLargeFile.ts"
import { measureOverwrite, OVERWRITE_BLOCK, OVERWRITE_FILE } from "./compare/sandstoreOverwrite.ts"
import { type CompareSettings, parseCompareArguments, USAGE } from "./compare/settings.ts"
import { formatBytes, formatCount, formatMibPerSec, formatMillis, renderReport } from "./compare/table.ts"

const ROOT = join(import.meta.dirname, "..")
const RESULTS = join(ROOT, "results", "compare")
const README = join(ROOT, "README.md")

const VALUE_BYTES = 256
/** Fixed, so two runs write the same bytes. */
const SEED = crc32c(new TextEncoder().encode("bench:compare"))

const log = (line: string) => Console.error(line)

const rowLine = (system: string, clients: number, ops: SmallOps) =>
  log(
    `  ${system} c=${clients}: ${formatCount(ops.opsPerSec)} ops/s, p50 ${formatMillis(ops.p50)} ms, ` +
      `p99 ${formatMillis(ops.p99)} ms, CPU ${formatMillis(ops.cpuMillisPerOp)} ms/op ` +
      `(clients ${formatMillis(ops.clientCpuMillisPerOp)}), ${ops.errors} errors`
  )

/** Bytes the processes have written to storage, for the overwrite row. */
const writtenOf = (pids: ReadonlyArray<number>, provide: <A, E>(effect: Effect.Effect<A, E, FileSystem.FileSystem>) => Effect.Effect<A, E>) =>
  provide(processWrittenBytes(pids)).pipe(Effect.mapError((error) => new BenchFailed({ message: error.message })))

/** CPU seconds the processes have used, for the rows' CPU per operation. */
const cpuOf = (pids: ReadonlyArray<number>, provide: <A, E>(effect: Effect.Effect<A, E, FileSystem.FileSystem>) => Effect.Effect<A, E>) =>
  provide(processCpuSeconds(pids)).pipe(Effect.mapError((error) => new BenchFailed({ message: error.message })))

const machine = (): Machine => {
  const cores = cpus()
  return {
    cores: cores.length,
    cpuModel: cores[0]?.model.trim().replace(/\s+/g, " ") ?? "unknown CPU",
    nodeVersion: process.version,
    platform: `${platform()} ${release()}`,
    checksums: crc32cImplementation,
    allocator: [describeAllocator(process.env), ...nodeHeapArgs(process.execArgv, process.env).map((arg) => `nodes ${arg}`)].join(", ")
  }
}

/**
 * A smaller file each large-file run first moves untimed, as the small operations are primed:
 * the timed run measures the code compiled, not its first calls (a first read of the file ran
 * at 150-170 MiB/s, the next ones at 190-260).
 */
const PRIME_FILE_BYTES = 64 * 2 ** 20
const primePieces = (fileSize: number, pieceBytes: number) => new FilePieces(Math.min(fileSize, PRIME_FILE_BYTES), pieceBytes, SEED + 1)

/**
 * What runs before each timed large-file run: `run` over the prime file, then memory touched
 * (warmMemory.ts) for what Sandstore's three replicas and buffers of the file take, at least 1 GiB.
 */
const prepareLargeRun = <E, R>(fileSize: number, pieceBytes: number, run: (prime: FilePieces) => Effect.Effect<unknown, E, R>) =>
  Effect.zipRight(run(primePieces(fileSize, pieceBytes)), warmMemory(Math.max(2 ** 30, 4 * fileSize)))

/** Failures end the run with their message; a usage error also shows the usage. */
const fail = (message: string, code = EXIT_FAILURE) =>
  Effect.zipRight(Console.error(`bench:compare: ${message}`), Effect.fail(new CliExit({ code })))

const measureEtcd = (settings: CompareSettings) =>
  Effect.scoped(Effect.gen(function*() {
    yield* log("etcd: starting 3 members")
    const cluster = yield* startEtcdCluster(3)
    const context = yield* Effect.context<FileSystem.FileSystem>()
    yield* log(`etcd: up at ${cluster.endpoints.join(",")}; puts of ${VALUE_BYTES} B values, then gets`)
    return yield* measureEtcdOps({
      endpoints: cluster.endpoints,
      concurrency: settings.concurrency,
      duration: settings.duration,
      warmup: settings.warmup,
      prime: settings.prime,
      value: patternBytes(VALUE_BYTES, SEED),
      serverCpuSeconds: cpuOf(cluster.pids, Effect.provide(context)),
      clientCpuSeconds: cpuOf([process.pid], Effect.provide(context)),
      onRow: (kind, clients, ops) => rowLine(`etcd ${kind}`, clients, ops)
    })
  }))

const measureSandstore = (settings: CompareSettings) =>
  Effect.scoped(Effect.gen(function*() {
    yield* log("sandstore: starting 3 nodes")
    const cluster = yield* startCluster({ nodes: 3 })
    const leader = yield* cluster.leader
    const context = yield* Effect.context<FileSystem.FileSystem>()
    const pids = cluster.ids.map((id) => cluster.node(id).process.pid!)
    yield* log(`sandstore: up at ${cluster.addresses.join(",")}, leader ${leader}; creates of new files, then stats`)
    const small = yield* measureSandstoreOps({
      seeds: cluster.addresses,
      concurrency: settings.concurrency,
      duration: settings.duration,
      warmup: settings.warmup,
      prime: settings.prime,
      serverCpuSeconds: cpuOf(pids, Effect.provide(context)),
      clientCpuSeconds: cpuOf([process.pid], Effect.provide(context)),
      onRow: (kind, clients, ops) => rowLine(`sandstore ${kind}`, clients, ops)
    })
    if (settings.smallOnly) return { small, pieces: undefined, large: undefined, overwrite: undefined }
    const pieceBytes = yield* sandstorePieceBytes(cluster.addresses)
    const pieces = new FilePieces(settings.fileSize, pieceBytes, SEED)
    yield* log(`sandstore: one ${formatBytes(settings.fileSize)} file in ${formatBytes(pieceBytes)} pieces`)
    yield* prepareLargeRun(settings.fileSize, pieceBytes, (prime) =>
      sandstoreLargeFile({ seeds: cluster.addresses, path: "/compare-prime-file", pieces: prime }))
    const large = yield* sandstoreLargeFile({ seeds: cluster.addresses, path: "/compare-large-file", pieces })
    yield* log(
      `  write ${formatMibPerSec(pieces.fileSize / 2 ** 20 / large.write.seconds)} MiB/s, ` +
        `read ${formatMibPerSec(large.read.bytes / 2 ** 20 / large.read.seconds)} MiB/s`
    )
    yield* log(`sandstore: ${formatBytes(OVERWRITE_BLOCK)} writes at random offsets of a ${formatBytes(OVERWRITE_FILE)} file, 1 client`)
    const overwrite = yield* measureOverwrite({
      seeds: cluster.addresses,
      duration: settings.duration,
      warmup: settings.warmup,
      serverCpuSeconds: cpuOf(pids, Effect.provide(context)),
      serverWrittenBytes: writtenOf(pids, Effect.provide(context))
    })
    yield* log(
      `  ${formatCount(overwrite.ops.opsPerSec)} ops/s, p50 ${formatMillis(overwrite.ops.p50)} ms, ` +
        `${overwrite.writtenBytesPerOp === undefined ? "–" : formatBytes(overwrite.writtenBytesPerOp)} written per op, ${overwrite.ops.errors} errors`
    )
    return { small, pieces, large, overwrite }
  }))

const writeOutputs = (markdown: string, finishedAt: number, updateReadme: boolean) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const document = `# Sandstore next to etcd and the disk\n\n${markdown}`
    yield* fs.makeDirectory(RESULTS, { recursive: true })
    const file = join(RESULTS, `${fileTimestamp(finishedAt)}.md`)
    yield* fs.writeFileString(file, document)
    yield* fs.writeFileString(join(RESULTS, "latest.md"), document)
    if (!updateReadme) return file
    const readme = yield* fs.readFileString(README)
    const section = [
      "`npm run bench:compare` runs a 3-member etcd and a 3-node Sandstore cluster on this machine, one after",
      "the other, and the disk on its own (flags `--duration`, `--warmup`, `--prime`, `--concurrency`, `--file-size`,",
      "`--small-only`; about 4–5 minutes with the defaults). CPU ms/op is the user + system time of the 3",
      "server processes, summed, per operation: steadier than ops/s on a shared machine. Its latest table",
      "(all runs: `results/compare/`):",
      "",
      markdown
    ].join("\n")
    const updated = replaceSection(readme, section)
    if (Either.isLeft(updated)) yield* log(`README not updated: ${updated.left}`)
    else {
      yield* fs.writeFileString(README, updated.right)
      yield* log("README: compare section updated")
    }
    return file
  })

const program = Effect.gen(function*() {
  const parsed = parseCompareArguments(process.argv.slice(2))
  if (Either.isLeft(parsed)) return yield* fail(`${parsed.left}\n${USAGE}`, EXIT_USAGE)
  if (parsed.right._tag === "Help") return yield* Console.log(USAGE)
  const settings = parsed.right.settings
  if (!existsSync(ETCD_BIN)) {
    return yield* fail(`no etcd at ${ETCD_BIN}: install Debian's etcd-server (apt-get install etcd-server) or set ETCD_BIN`)
  }
  const version = yield* etcdVersion
  yield* log(
    `bench:compare: ${settings.concurrency.join(",")} clients, ${Duration.format(settings.duration)} per row after ` +
      `${Duration.format(settings.warmup)} warm-up, after ${Duration.format(settings.prime)} of priming; large file ${formatBytes(settings.fileSize)}; etcd ${version}`
  )

  const etcd = yield* measureEtcd(settings)
  const sandstore = yield* measureSandstore(settings)
  let disk: Effect.Effect.Success<ReturnType<typeof diskBaseline>> | undefined
  let loopback: Effect.Effect.Success<ReturnType<typeof loopbackBaseline>> | undefined
  if (sandstore.pieces !== undefined) {
    yield* log(`disk: ${formatBytes(settings.fileSize)} write + fsync, then read`)
    const pieceBytes = sandstore.pieces.pieceBytes
    yield* prepareLargeRun(settings.fileSize, pieceBytes, diskBaseline)
    disk = yield* diskBaseline(sandstore.pieces)
    yield* log(`loopback: ${formatBytes(settings.fileSize)} sent, then received, over one TCP connection`)
    yield* prepareLargeRun(settings.fileSize, pieceBytes, loopbackBaseline)
    loopback = yield* loopbackBaseline(sandstore.pieces)
  }
  const pair = (etcdRows: ReadonlyArray<EtcdRow>, ours: ReadonlyArray<{ readonly clients: number; readonly ops: SmallOps }>) =>
    settings.concurrency.map((clients): SmallOpsRow => ({
      clients,
      etcd: etcdRows.find((row) => row.clients === clients)!.ops,
      sandstore: ours.find((row) => row.clients === clients)!.ops
    }))

  const finishedAt = yield* Clock.currentTimeMillis
  const report: CompareReport = {
    finishedAt,
    machine: machine(),
    etcdVersion: version,
    durationSeconds: Duration.toSeconds(settings.duration),
    warmupSeconds: Duration.toSeconds(settings.warmup),
    primeSeconds: Duration.toSeconds(settings.prime),
    valueBytes: VALUE_BYTES,
    writes: pair(etcd.puts, sandstore.small.creates),
    reads: pair(etcd.gets, sandstore.small.stats),
    large: sandstore.pieces === undefined || sandstore.large === undefined || disk === undefined || loopback === undefined ? undefined : {
      fileSize: settings.fileSize,
      pieceBytes: sandstore.pieces.pieceBytes,
      sandstoreWrite: sandstore.large.write,
      sandstoreRead: sandstore.large.read,
      diskWrite: disk.write,
      diskRead: disk.read,
      loopbackWrite: loopback.write,
      loopbackRead: loopback.read
    },
    overwrite: sandstore.overwrite
  }
  const markdown = renderReport(report).join("\n")
  yield* Console.log(`\n${markdown}\n`)
  const file = yield* writeOutputs(markdown, finishedAt, !settings.smallOnly)
  yield* log(`results: ${file} and ${join(RESULTS, "latest.md")}`)
}).pipe(
  Effect.catchAll((error) =>
    error instanceof CliExit ? Effect.fail(error) : fail("message" in error ? String(error.message) : String(error))
  )
)

// The client and the baselines in this process run with the malloc settings the nodes get.
await rerunWithAllocatorSettings([
  fileURLToPath(new URL("../bin/run-compiled.mjs", import.meta.url)),
  fileURLToPath(import.meta.url),
  ...process.argv.slice(2)
])

program.pipe(
  Effect.provide(TcpCommunicator),
  Effect.provide(NodeContext.layer),
  (main) => NodeRuntime.runMain(main, { disableErrorReporting: true, teardown })
)
