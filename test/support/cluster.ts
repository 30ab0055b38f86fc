/**
 * A real local cluster for integration tests: `n` hyperconverged node processes on ports
 * chosen free at run time, each in its own data dir under one temp dir. Processes are killed
 * and the directory removed when the scope closes.
 */
import { Effect, Option, Schedule, type Scope } from "effect"
import { askSeeds, verdict } from "../../src/client/clusterStatus.ts"
import type { Communicator } from "../../src/services/Communicator.ts"
import { type NodeProcess, freePort, startNode } from "./nodeProcess.ts"
import { tempDir } from "./tempDir.ts"

export interface ClusterOptions {
  readonly nodes?: number
  readonly chunkSize?: number
  /** etcd endpoint for etcd membership (default: the probed static list) */
  readonly etcd?: string
  /** More `sandstore node` flags for every node, e.g. ["--snapshot-threshold", "100"]. */
  readonly args?: ReadonlyArray<string>
}

export interface TestCluster {
  readonly ids: ReadonlyArray<string>
  readonly addresses: ReadonlyArray<string>
  readonly node: (id: string) => NodeProcess
  /** Node `id`'s data dir. */
  readonly dataDir: (id: string) => string
  /** The flags after `sandstore node` that start node `id`, for a test that runs it itself. */
  readonly argv: (id: string) => ReadonlyArray<string>
  /** (Re)start node `id` on its port and data dir. */
  readonly start: (id: string) => Effect.Effect<NodeProcess, never, Scope.Scope>
  /** The leader's id once exactly one node leads (retried for up to 30 s). */
  readonly leader: Effect.Effect<string, Error, Communicator>
}

export const startCluster = (options: ClusterOptions = {}) =>
  Effect.gen(function*() {
    const n = options.nodes ?? 3
    const dir = yield* tempDir("sandstore-cluster-")
    const ids = Array.from({ length: n }, (_, i) => `n${i + 1}`)
    const ports = yield* Effect.forEach(ids, () => freePort)
    const addresses = ports.map((port) => `127.0.0.1:${port}`)
    const peers = ids.map((id, i) => `${id}=${addresses[i]}`).join(",")
    const running = new Map<string, NodeProcess>()
    const args = [
      "--peers", peers,
      ...(options.chunkSize === undefined ? [] : ["--chunk-size", String(options.chunkSize)]),
      ...(options.etcd === undefined ? [] : ["--membership", "etcd", "--etcd", options.etcd]),
      ...(options.args ?? [])
    ]
    const dataDir = (id: string) => `${dir}/${id}`
    const argv = (id: string) => ["--id", id, "--listen", addresses[ids.indexOf(id)]!, "--data-dir", dataDir(id), ...args]
    const start = (id: string) =>
      Effect.tap(
        startNode({ id, port: ports[ids.indexOf(id)]!, dataDir: dataDir(id), args }),
        (node) => Effect.sync(() => running.set(id, node))
      )
    yield* Effect.forEach(ids, start, { concurrency: "unbounded", discard: true })
    const leader = askSeeds(addresses).pipe(
      Effect.flatMap((answers) => {
        const v = verdict(answers)
        return v.healthy ? Effect.succeed(v.leaderId) : Effect.fail(new Error(v.reason))
      }),
      Effect.retry(Schedule.spaced("200 millis").pipe(Schedule.upTo("30 seconds")))
    )
    const cluster: TestCluster = {
      ids,
      addresses,
      node: (id) => Option.getOrThrow(Option.fromNullable(running.get(id))),
      dataDir,
      argv,
      start,
      leader
    }
    return cluster
  })
