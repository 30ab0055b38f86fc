/**
 * `sandstore cluster up`: a local cluster in the foreground. Each node is a real `sandstore
 * node` process (so `kill -9` of one is a real crash), on consecutive ports, with its output
 * prefixed by its id. Ctrl-C (or SIGTERM) stops every node cleanly: each gets SIGTERM and is
 * waited for. A node that dies is reported; the others keep running.
 */
import { Command as Cli, Options } from "@effect/cli"
import { Command, FileSystem, Path } from "@effect/platform"
import { Console, Effect, Stream } from "effect"
import { fileURLToPath } from "node:url"
import { nodeLaunch } from "../lib/nodeLaunch.ts"

const BIN = fileURLToPath(new URL("../../bin/sandstore.mjs", import.meta.url))

const options = {
  nodes: Options.integer("nodes").pipe(Options.withDescription("how many nodes"), Options.withDefault(3)),
  basePort: Options.integer("base-port").pipe(
    Options.withDescription("node i listens on base-port + i - 1"),
    Options.withDefault(9001)
  ),
  host: Options.text("host").pipe(Options.withDescription("address to listen on"), Options.withDefault("127.0.0.1")),
  dataDir: Options.text("data-dir").pipe(
    Options.withDescription("parent directory of the nodes' data (one subdirectory per node)"),
    Options.withDefault(".sandstore/cluster")
  ),
  etcd: Options.text("etcd").pipe(
    Options.withDescription("etcd endpoints host:port[,...]: use etcd membership instead of the static list"),
    Options.optional
  )
}

/** The `sandstore node` arguments of node `i` (1-based) of the cluster. */
export const nodeArgs = (
  i: number,
  cluster: { readonly nodes: number; readonly basePort: number; readonly host: string; readonly dataDir: string; readonly etcd?: string }
): Array<string> => {
  const peers = Array.from({ length: cluster.nodes }, (_, k) => `n${k + 1}=${cluster.host}:${cluster.basePort + k}`).join(",")
  return [
    "node",
    "--id", `n${i}`,
    "--listen", `${cluster.host}:${cluster.basePort + i - 1}`,
    "--data-dir", `${cluster.dataDir}/n${i}`,
    "--topology", "hyperconverged",
    "--peers", peers,
    ...(cluster.etcd === undefined ? [] : ["--membership", "etcd", "--etcd", cluster.etcd])
  ]
}

const prefixed = (id: string, stream: Stream.Stream<Uint8Array, unknown>, write: (line: string) => Effect.Effect<void>) =>
  stream.pipe(
    Stream.decodeText(),
    Stream.splitLines,
    Stream.runForEach((line) => write(`[${id}] ${line}`)),
    Effect.ignore
  )

export const clusterUp = Cli.make("up", options, ({ basePort, dataDir, etcd, host, nodes }) =>
  Effect.gen(function*() {
    if (nodes < 1 || nodes > 99) return yield* Effect.fail(new Error(`--nodes must be between 1 and 99, got ${nodes}`))
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const root = path.resolve(dataDir)
    yield* fs.makeDirectory(root, { recursive: true })
    const cluster = { nodes, basePort, host, dataDir: root, ...(etcd._tag === "Some" ? { etcd: etcd.value } : {}) }
    yield* Console.log(
      `starting ${nodes} node(s) on ${host}:${basePort}-${basePort + nodes - 1}, data in ${root}` +
        (etcd._tag === "Some" ? `, etcd membership at ${etcd.value}` : ", static membership") +
        "; Ctrl-C stops them all"
    )
    yield* Effect.forEach(Array.from({ length: nodes }, (_, k) => k + 1), (i) =>
      Effect.gen(function*() {
        const id = `n${i}`
        const launch = nodeLaunch(BIN, nodeArgs(i, cluster))
        const child = yield* Command.start(Command.make(process.execPath, ...launch.args).pipe(Command.env(launch.env)))
        yield* Effect.forkScoped(prefixed(id, child.stdout, (line) => Console.log(line)))
        yield* Effect.forkScoped(prefixed(id, child.stderr, (line) => Console.error(line)))
        const code = yield* child.exitCode.pipe(Effect.orElseSucceed(() => -1))
        yield* Console.error(`[${id}] exited with code ${code}`)
      }), { concurrency: "unbounded", discard: true })
  }).pipe(Effect.scoped)).pipe(Cli.withDescription("run a local cluster in the foreground (Ctrl-C stops every node)"))

export const clusterCommand = Cli.make("cluster").pipe(
  Cli.withDescription("local clusters"),
  Cli.withSubcommands([clusterUp])
)
