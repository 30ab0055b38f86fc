/**
 * Helpers for the durability suite (test/integration/durability*.test.ts): a 3-process cluster
 * with etcd membership, what every node says about its Raft state, waiting for a node to catch
 * up, pausing processes with SIGSTOP (always resumed before the scope kills them), running
 * `sandstore` commands to their exit, and damaging WAL segments the ways a disk or a crash does.
 */
import { type Duration, Effect, Schedule, type Scope } from "effect"
import { execFile, spawn } from "node:child_process"
import { appendFileSync, readdirSync, readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { TcpCommunicator } from "../../layers/transport/tcp.ts"
import { askSeeds } from "../../src/client/clusterStatus.ts"
import type { ReplicatorStatus } from "../../src/domain/cluster.ts"
import type { SandstoreClientShape } from "../../src/client/SandstoreClient.ts"
import { ROOT_INODE } from "../../src/domain/fs.ts"
import { ClientApi } from "../../src/protocol/ClientApi.ts"
import { Communicator } from "../../src/services/Communicator.ts"
import { clientOf } from "./client-node.ts"
import { type ClusterOptions, startCluster, type TestCluster } from "./cluster.ts"
import { etcdServer } from "./etcd.ts"
import { BIN, type NodeProcess } from "./nodeProcess.ts"

/** How long a condition may take to hold: elections take about a second, catching up a few. */
export const WITHIN: Duration.DurationInput = "30 seconds"

/** Poll `check` every 100 ms until it succeeds; after `within`, die with its last failure. */
export const eventually = <A>(what: string, check: Effect.Effect<A, Error>, within: Duration.DurationInput = WITHIN) =>
  check.pipe(
    Effect.retry(Schedule.spaced("100 millis").pipe(Schedule.upTo(within))),
    Effect.catchAll((error) => Effect.dieMessage(`timed out waiting until ${what}: ${error.message}`))
  )

/** A fresh etcd and a 3-node cluster registered in it, both gone with the scope; waits for a leader. */
export const etcdCluster = (options: Omit<ClusterOptions, "etcd"> = {}) =>
  Effect.gen(function*() {
    const etcd = yield* etcdServer()
    const cluster = yield* startCluster({ ...options, etcd: etcd.endpoint })
    yield* cluster.leader.pipe(Effect.provide(TcpCommunicator), Effect.orDie)
    return { etcd, cluster }
  })

/** Each reachable node's Raft state, by node id. */
export const statuses = (cluster: TestCluster) =>
  Effect.map(askSeeds(cluster.addresses).pipe(Effect.provide(TcpCommunicator)), (answers) => {
    const byId = new Map<string, ReplicatorStatus>()
    for (const answer of answers) {
      if (answer._tag === "Answered") byId.set(answer.topology.self.node.id, answer.topology.self.replicator)
    }
    return byId
  })

/** Node `id`'s Raft state once it has applied everything any node knows committed (all 3 answering). */
export const caughtUp = (cluster: TestCluster, id: string, within: Duration.DurationInput = WITHIN) =>
  eventually(`node ${id} has applied the cluster's commit index`, Effect.flatMap(statuses(cluster), (byId) => {
    const self = byId.get(id)
    const top = Math.max(...[...byId.values()].map((s) => s.commitIndex))
    return self !== undefined && byId.size === cluster.ids.length && self.appliedIndex >= top
      ? Effect.succeed(self)
      : Effect.fail(new Error(`views: ${JSON.stringify([...byId.values()])}`))
  }), within)

/** Every node's Raft state once all have applied the same index, the leader's commit index. */
export const converged = (cluster: TestCluster) =>
  eventually("every node has applied the leader's commit index", Effect.flatMap(statuses(cluster), (byId) => {
    const views = [...byId.values()]
    const leader = views.find((s) => s.role === "leader")
    return leader !== undefined && views.length === cluster.ids.length &&
        views.every((s) => s.appliedIndex === leader.commitIndex && s.leaderId === leader.nodeId)
      ? Effect.succeed(byId)
      : Effect.fail(new Error(`views: ${JSON.stringify(views)}`))
  }))

/** The leader's id, through the cluster's own check (exactly one node leads). */
export const leaderOf = (cluster: TestCluster) => cluster.leader.pipe(Effect.provide(TcpCommunicator), Effect.orDie)

/** A client that talks to the cluster through the nodes at `addresses` only, closed with the scope. */
export const clientThrough = (addresses: ReadonlyArray<string>) =>
  clientOf(addresses).pipe(Effect.provide(TcpCommunicator))

/** Writers that give up at once when their node is gone, for writes raced against a kill. */
export const failFastClient = (addresses: ReadonlyArray<string>) =>
  clientOf(addresses, { retry: { retries: 1, baseDelay: "10 millis", maxDelay: "10 millis", attemptTimeout: "10 seconds" } }).pipe(
    Effect.provide(TcpCommunicator)
  )

/**
 * A Create of `/name` sent straight to the node at `address`, no lookup first (the SDK's lookup
 * is a linearizable read, which waits for a quorum): with the followers paused, this is how a
 * create gets in flight. Resolves with the call's outcome.
 */
export const createInRoot = (address: string, name: string) =>
  Effect.gen(function*() {
    const communicator = yield* Communicator
    const api = yield* communicator.client(ClientApi, address)
    return yield* api.Create({ parent: ROOT_INODE, name, mode: 0o644, uid: 0, gid: 0, exclusive: false, request: null })
  }).pipe(Effect.scoped, Effect.either, Effect.provide(TcpCommunicator))

/** SIGSTOP the process; the scope sends SIGCONT before anything kills it. */
export const pause = (node: NodeProcess): Effect.Effect<void, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.sync(() => {
      node.process.kill("SIGSTOP")
    }),
    () => resume(node)
  )

export const resume = (node: NodeProcess) =>
  Effect.sync(() => {
    if (node.process.exitCode === null && node.process.signalCode === null) node.process.kill("SIGCONT")
  })

/** Create `count` empty files `${dir}/f<i>` (the directory must exist), `concurrency` at a time. */
export const createFiles = (client: SandstoreClientShape, dir: string, from: number, count: number, concurrency = 16) =>
  Effect.forEach(
    Array.from({ length: count }, (_, i) => from + i),
    (i) => client.writeFile(`${dir}/f${i}`, new Uint8Array(0)),
    { concurrency, discard: true }
  )

/** The names in `dir`, sorted. */
export const namesIn = (client: SandstoreClientShape, dir: string) =>
  Effect.map(client.readdir(dir), (names) => [...names].sort())

/** `f<from>` .. `f<from+count-1>`, sorted as namesIn sorts. */
export const expectedNames = (from: number, count: number) =>
  Array.from({ length: count }, (_, i) => `f${from + i}`).sort()

export interface Run {
  readonly code: number | null
  /** stdout and stderr together */
  readonly output: string
  readonly stderr: string
}

/** Run `sandstore ...args` to its exit (killed after `timeoutMs`); its exit code and output. */
export const runSandstore = (args: ReadonlyArray<string>, timeoutMs = 30_000) =>
  Effect.async<Run>((resume) => {
    const child = execFile(process.execPath, [BIN, ...args], { timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === "number" ? error.code : null
      resume(Effect.succeed({ code, output: stdout + stderr, stderr }))
    })
    return Effect.sync(() => child.kill("SIGKILL"))
  })

/** Start node `id` of `cluster` expecting it to refuse to start: its exit code and output (dies after 30 s). */
export const runNodeToExit = (cluster: TestCluster, id: string) =>
  Effect.async<Run>((resume) => {
    let output = ""
    let stderr = ""
    const child = spawn(process.execPath, [BIN, "node", ...cluster.argv(id)], { stdio: ["ignore", "pipe", "pipe"] })
    child.stdout.on("data", (d) => (output += d))
    child.stderr.on("data", (d) => {
      output += d
      stderr += d
    })
    child.once("close", (code) => resume(Effect.succeed({ code, output, stderr })))
    return Effect.sync(() => child.kill("SIGKILL"))
  }).pipe(
    Effect.timeout("30 seconds"),
    Effect.catchAll(() => Effect.dieMessage(`node ${id} kept running; it was expected to refuse to start`))
  )

// ---- WAL segments on disk ----------------------------------------------------------------

const RECORD_HEADER_BYTES = 9

/** The node's WAL segment files, oldest first. */
export const walSegments = (dataDir: string): Array<string> =>
  readdirSync(join(dataDir, "wal")).filter((name) => /^wal-\d{16}\.log$/.test(name)).sort().map((name) => join(dataDir, "wal", name))

/** Where each record of a segment starts and its total length (header and payload). */
export const recordsOf = (file: string): Array<{ readonly offset: number; readonly length: number }> => {
  const bytes = readFileSync(file)
  const records: Array<{ offset: number; length: number }> = []
  let offset = 0
  while (offset + RECORD_HEADER_BYTES <= bytes.length) {
    const length = RECORD_HEADER_BYTES + bytes.readUInt32LE(offset)
    if (offset + length > bytes.length) break
    records.push({ offset, length })
    offset += length
  }
  return records
}

/**
 * Leave a torn tail, as a power cut in the middle of an append does: the last segment ends in
 * the first half of a record that never became durable (a copy of its last record's first half).
 * Cutting into a record that was fsynced would be data loss, not a torn tail: the store may
 * already have applied it, and the node then refuses to start (store ahead of the log).
 */
export const tearTail = (dataDir: string) => {
  const last = walSegments(dataDir).at(-1)!
  const record = recordsOf(last).at(-1)!
  const bytes = readFileSync(last)
  const half = bytes.subarray(record.offset, record.offset + Math.floor(record.length / 2))
  appendFileSync(last, half)
  return { file: last, offset: bytes.length, bytes: half.length }
}

/**
 * Flip one payload byte of the record in the middle of the last segment (valid records follow
 * it, so this is damage, not a torn tail). Returns the file and the offset of that record.
 */
export const corruptMiddleRecord = (dataDir: string) => {
  const last = walSegments(dataDir).at(-1)!
  const records = recordsOf(last).filter((record) => record.length > RECORD_HEADER_BYTES)
  if (records.length < 3) throw new Error(`${last} has only ${records.length} records; the test needs more`)
  const record = records[Math.floor(records.length / 2)]!
  const bytes = readFileSync(last)
  const at = record.offset + RECORD_HEADER_BYTES + Math.floor((record.length - RECORD_HEADER_BYTES) / 2)
  bytes[at] = bytes[at]! ^ 0xff
  writeFileSync(last, bytes)
  return { file: last, offset: record.offset }
}
