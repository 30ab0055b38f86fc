/**
 * A bounded chaos run against real processes: start a local cluster, run the workload and the
 * nemesis side by side for the run's duration, heal every node, wait for a leader, read every
 * path back, and judge: zero lost acknowledged writes (writeAudit.ts), zero writes applied twice
 * (the shared append log read back, src/sim/check/exactlyOnce.ts), no write acknowledged
 * without a quorum (quorumAudit.ts), no node that died by itself, and the checkers'
 * linearizability of the history and of the history followed by the read-back (durability).
 * The clients lose replies now and then (`replyLoss`), so the SDK resends requests that already
 * took effect.
 *
 * Processes are stopped and the temporary data dir removed when the run's scope closes, on
 * success, failure or interruption alike.
 */
import type { CommandExecutor } from "@effect/platform/CommandExecutor"
import type { PlatformError } from "@effect/platform/Error"
import { FileSystem } from "@effect/platform"
import { Clock, Context, Duration, Effect, Layer, Schedule } from "effect"
import { SandstoreClient, type SandstoreClientShape } from "../client/SandstoreClient.ts"
import { InvalidArgument, type Unavailable } from "../domain/errors.ts"
import { makeReplyLoss } from "../../layers/transport/lossyReplies.ts"
import { type AppendAudit, auditAppends, checkDurability, checkLinearizability, type NamedVerdict, withoutAppends } from "../sim/check/index.ts"
import { identifyContent } from "../sim/content.ts"
import type { FileReadBack, FinalState } from "../sim/finalState.ts"
import type { History } from "../sim/history.ts"
import type { Communicator } from "../services/Communicator.ts"
import { makeRecorder } from "../sim/recorder.ts"
import { type LocalCluster, makeLocalCluster, type NodeCrash } from "./localCluster.ts"
import { type Fault, runNemesis } from "./nemesis.ts"
import { writesWithoutQuorum } from "./quorumAudit.ts"
import { CHAOS_LOG, CHAOS_PATHS, journalPath, makeDefectLog, runWorkload } from "./workload.ts"
import { auditWrites, type WriteAudit } from "./writeAudit.ts"

export interface ChaosSettings {
  readonly nodes: number
  readonly clients: number
  readonly duration: Duration.Duration
  readonly seed: number
  /** Fraction of replies to the clients lost on the way (0 to 0.5): the SDK resends those requests. */
  readonly replyLoss: number
  readonly host: string
  /** 0: a free port for each node. */
  readonly basePort: number
  /** Kept after the run; without it a temporary directory is used and removed. */
  readonly dataDir?: string
  readonly etcd?: string
}

/** How long a cluster gets to elect a leader, at the start and after healing. */
const LEADER_WAIT = "60 seconds"

/**
 * An operation with no outcome by then is recorded as indeterminate: a resent write takes up to
 * three 5 s steps and a wait of up to 2.5 s, and closing its handle may flush once more.
 */
const OPERATION_TIMEOUT = "20 seconds"

export type Recovery =
  | { readonly _tag: "Recovered"; readonly leaderId: string; readonly millis: number }
  | { readonly _tag: "NotRecovered"; readonly reason: string }

export interface ChaosReport {
  readonly settings: ChaosSettings
  readonly dataDir: string
  readonly addresses: ReadonlyArray<string>
  readonly faults: ReadonlyArray<Fault>
  readonly history: History
  readonly recovery: Recovery
  readonly readBack: ReadonlyArray<FileReadBack>
  readonly writes: WriteAudit
  /** The shared append log: appends applied twice or lost. */
  readonly appends: AppendAudit
  /** Replies the clients lost on purpose. */
  readonly repliesLost: number
  readonly withoutQuorum: ReadonlyArray<string>
  readonly checks: ReadonlyArray<NamedVerdict>
  readonly crashes: ReadonlyArray<NodeCrash>
  /** The SDK's defects during the workload (their operations are recorded as indeterminate). */
  readonly clientDefects: ReadonlyArray<string>
  /** No acknowledged write lost, none applied twice, none without quorum, no crash, recovered, every check valid. */
  readonly ok: boolean
}

/** Read back a path: its bytes, absent (not in the result), or why it could not be read. */
const readPath = (client: SandstoreClientShape, path: string) =>
  client.readFile(path).pipe(
    Effect.retry({
      while: (error) => error._tag !== "NotFound",
      schedule: Schedule.spaced("1 second").pipe(Schedule.intersect(Schedule.recurs(10)))
    }),
    Effect.map((bytes): FileReadBack => ({ _tag: "Read", path, bytes, content: identifyContent(bytes) })),
    Effect.catchAll((error) =>
      Effect.succeed(error._tag === "NotFound" ? undefined : ({ _tag: "Failed", path, error: error._tag } as const))
    )
  )

/** Every path of the run, read through a fresh client once a leader is confirmed. */
const readEverything = (cluster: LocalCluster, clients: number) =>
  Effect.gen(function*() {
    const context = yield* Layer.build(SandstoreClient.layer({ seeds: [...cluster.addresses] }))
    const client = Context.get(context, SandstoreClient)
    const paths = [...CHAOS_PATHS, CHAOS_LOG, ...Array.from({ length: clients }, (_, i) => journalPath(i))]
    const read = yield* Effect.forEach(paths, (path) => readPath(client, path))
    return read.filter((file): file is FileReadBack => file !== undefined)
  }).pipe(Effect.scoped)

/** What a caller can watch while the run goes on. */
export interface ChaosObserver {
  /** A line of progress: the cluster started, a fault healed, checking began. */
  readonly say?: (line: string) => Effect.Effect<void>
  /** The cluster has a leader and the clients are about to start. */
  readonly started?: (cluster: { readonly dataDir: string; readonly addresses: ReadonlyArray<string> }) => Effect.Effect<void>
}

export const runChaos = (
  settings: ChaosSettings,
  observer: ChaosObserver = {}
): Effect.Effect<ChaosReport, PlatformError | Unavailable | InvalidArgument, CommandExecutor | FileSystem.FileSystem | Communicator> =>
  Effect.gen(function*() {
    const say = observer.say ?? (() => Effect.void)
    const fs = yield* FileSystem.FileSystem
    // The checkers' model starts from an empty filesystem: a data dir holding an earlier
    // cluster would make its files look like lost or phantom writes.
    if (settings.dataDir !== undefined && (yield* fs.exists(settings.dataDir)) &&
      (yield* fs.readDirectory(settings.dataDir)).length > 0) {
      return yield* new InvalidArgument({ message: `--data-dir ${settings.dataDir} is not empty: a chaos run starts from a new cluster` })
    }
    const dataDir = settings.dataDir ?? (yield* fs.makeTempDirectoryScoped({ prefix: "sandstore-chaos-" }))
    if (settings.dataDir !== undefined) yield* fs.makeDirectory(dataDir, { recursive: true })
    const cluster = yield* makeLocalCluster({
      nodes: settings.nodes,
      host: settings.host,
      basePort: settings.basePort,
      dataDir,
      ...(settings.etcd === undefined ? {} : { etcd: settings.etcd })
    })
    yield* say(`started ${settings.nodes} nodes at ${cluster.addresses.join(", ")}, data in ${dataDir}`)
    const firstLeader = yield* cluster.awaitLeader(LEADER_WAIT)
    yield* say(`leader ${firstLeader}; running ${settings.clients} clients for ${Duration.format(settings.duration)}`)

    if (observer.started) yield* observer.started({ dataDir, addresses: cluster.addresses })
    const startedAt = yield* Clock.currentTimeMillis
    const stopAt = startedAt + Duration.toMillis(settings.duration)
    const log = makeRecorder(startedAt)
    const defects = makeDefectLog()
    const replyLoss = makeReplyLoss(settings.replyLoss)
    const [, faults] = yield* Effect.all([
      runWorkload({
        clients: settings.clients,
        seed: settings.seed,
        addresses: cluster.addresses,
        log,
        stopAt,
        operationTimeout: OPERATION_TIMEOUT,
        defects,
        replyLoss
      }).pipe(
        // Interrupted (Ctrl-C), a client closing would first try to flush its open handles,
        // retrying for seconds against a cluster that may be paused: let it do so on its own.
        Effect.disconnect
      ),
      runNemesis({ cluster, seed: settings.seed, startedAt, stopAt, onFault: (fault) => say(faultLine(fault)) })
    ], { concurrency: "unbounded" })

    yield* say("healing every node and waiting for a leader")
    yield* cluster.heal
    const healedAt = yield* Clock.currentTimeMillis
    const recovery: Recovery = yield* cluster.awaitLeader(LEADER_WAIT).pipe(
      Effect.flatMap((leaderId) =>
        Effect.map(Clock.currentTimeMillis, (now): Recovery => ({ _tag: "Recovered", leaderId, millis: now - healedAt }))
      ),
      Effect.catchAll((error) => Effect.succeed<Recovery>({ _tag: "NotRecovered", reason: error.message }))
    )
    const readBack = recovery._tag === "Recovered" ? yield* readEverything(cluster, settings.clients) : []
    const history = log.history()
    yield* say(`checking ${history.filter((event) => event.type === "invoke").length} operations and the read-back of ${readBack.length} files`)

    const files = readBack.filter((file) => file.path !== CHAOS_LOG)
    const appendLog = readBack.find((file) => file.path === CHAOS_LOG) ?? null
    const finalState: FinalState = { nodes: [], chunks: [], files, directories: [], appendLog }
    const writes = auditWrites(history, files)
    const appends = auditAppends(history, finalState)
    const withoutQuorum = writesWithoutQuorum(history, faults)
    // The shared log lies outside the checkers' namespace model: the append audit covers it.
    const namespaceHistory = withoutAppends(history)
    const checks: Array<NamedVerdict> = [
      { name: "linearizability (history)", verdict: checkLinearizability(namespaceHistory) },
      { name: "durability (the read-back fits the history)", verdict: checkDurability(namespaceHistory, finalState) }
    ]
    const crashes = cluster.crashes()
    const ok = recovery._tag === "Recovered" && writes.lost.length === 0 && withoutQuorum.length === 0 &&
      appends.duplicated.length === 0 && appends.lost.length === 0 && appends.problems.length === 0 &&
      crashes.length === 0 && checks.every((check) => check.verdict.valid)
    const report: ChaosReport = {
      settings,
      dataDir,
      addresses: cluster.addresses,
      faults,
      history,
      recovery,
      readBack,
      writes,
      appends,
      repliesLost: replyLoss.lost(),
      withoutQuorum,
      checks,
      crashes,
      clientDefects: defects.all(),
      ok
    }
    return report
  }).pipe(Effect.scoped)

const seconds = (millis: number) => `${(millis / 1000).toFixed(1)}s`

/** `+12.3s  kill-leader n2 (kill) for 2.1s` */
export const faultLine = (fault: Fault): string =>
  `+${seconds(fault.start).padEnd(6)} ${fault.kind} ${fault.targets.map((t) => `${t.nodeId} (${t.action})`).join(", ")} ` +
  `for ${seconds(fault.end - fault.start)}${fault.note === undefined ? "" : `; ${fault.note}`}`
