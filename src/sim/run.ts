/**
 * One whole-cluster simulation run, from a seed: N nodes of the simulated topology, C clients
 * of the real SDK, the nemesis's faults; then heal everything, let the chunk collector run past
 * its orphan grace, read the final state back and check it with the history.
 *
 * Everything runs in this process on simulated time (src/sim/clock.ts), a seeded Random and
 * the simulation scheduler (src/sim/scheduler.ts): the same seed gives the same run, and the
 * same trace hash.
 */
import { Clock, Context, Duration, Effect, Exit, Fiber, Layer, Logger, LogLevel, Option, Random, Scope } from "effect"
import type { AdmissionLimits } from "../services/Admission.ts"
import { SandstoreClient } from "../client/SandstoreClient.ts"
import { type CheckOptions, checkAll } from "./check/index.ts"
import { SimulatedClock } from "./clock.ts"
import { makeSimCluster, type SimCluster } from "./cluster.ts"
import type { DiskLatency } from "./disk.ts"
import { APPEND_LOG } from "./appendLog.ts"
import { clusterMetadata, readAppendLog, readBack, storedChunks } from "./finalize.ts"
import type { FinalState } from "./finalState.ts"
import type { History, Verdict } from "./history.ts"
import { currentLeader, type FaultRecord, type PlannedFault, planFaults, runNemesis } from "./nemesis.ts"
import { makeSimNetwork } from "./network.ts"
import { lowEntropySessionIds, type PlantedBug } from "./plantedBugs.ts"
import { makeRecorder } from "./recorder.ts"
import { simulationScheduler } from "./scheduler.ts"
import { traceHash } from "./traceHash.ts"
import { clientHost, runWorkload, simulatedClient } from "./workload.ts"

export interface SimulationOptions {
  readonly seed: number
  readonly nodes?: number
  readonly clients?: number
  /** Simulated time the workload and the nemesis run for (default 20 s). */
  readonly durationMillis?: number
  /** Inject faults (default true). */
  readonly faults?: boolean
  readonly plantedBug?: PlantedBug
  /** The faults to inject, instead of the schedule drawn from the seed (a scenario test). */
  readonly plan?: ReadonlyArray<PlannedFault>
  /** Bounds of the checkers' searches (their defaults otherwise). */
  readonly check?: CheckOptions
  /** Log level of the nodes' own logs (default none). */
  readonly logLevel?: LogLevel.LogLevel
}

export interface NamedVerdict {
  readonly name: string
  readonly verdict: Verdict
}

export interface SimulationResult {
  readonly seed: number
  readonly simulatedMillis: number
  readonly operations: number
  readonly faults: ReadonlyArray<FaultRecord>
  readonly traceHash: string
  readonly history: History
  readonly finalState: FinalState
  readonly verdicts: ReadonlyArray<NamedVerdict>
}

export const CHUNK_SIZE = 4096
const REPLICATION = 3
/** A busy SSD under the WAL: 2–12 ms fsyncs, and one in 10 stalls for 50 ms. */
const DISK_LATENCY: DiskLatency = { fsyncMinMillis: 2, fsyncMaxMillis: 12, stallRate: 0.1, stallMillis: 50 }
/** The collector reconciles stored versions this often in a simulation (production: 1 minute). */
const ORPHAN_INTERVAL_MILLIS = 2_000
/** ...and deletes replaced versions this often (production: 5 s), so a resent write may find its merge source gone. */
const GARBAGE_INTERVAL_MILLIS = 150
/** Applied entries between log compactions (production: 10,000): runs compact, and send and install snapshots. */
const SNAPSHOT_THRESHOLD = 100
/** Kept behind each compaction: few, so a follower that was away is often sent a snapshot. */
const SNAPSHOT_CATCH_UP_ENTRIES = 5
/**
 * Write transactions expire after this (production: 1 minute), and unreferenced versions are
 * orphans after twice it: short, so a run need not idle long for the collector to finish.
 */
const TRANSACTION_TTL_MILLIS = 5_000
const ORPHAN_GRACE_MILLIS = 2 * TRANSACTION_TTL_MILLIS
/**
 * Client sessions expire after this long unused (production: 10 minutes), so a client cut off
 * by a partition, or resending a write much later, meets an expired session; expired sessions
 * are pruned every this many log indices.
 */
const SESSION_TIMEOUT_MILLIS = 2_000
const SESSION_PRUNE_INTERVAL = 16
/**
 * Small limits of work in flight per node (production: DEFAULT_ADMISSION_LIMITS), so the
 * nemesis's bursts of clients meet them: past them a node answers Busy, and its peaks must stay
 * within them (the "bounded load" check).
 */
export const SIM_ADMISSION: AdmissionLimits = {
  maxRequests: 12,
  maxRequestsPerConnection: 6,
  maxBytes: 256 * 1024,
  maxBytesPerConnection: 64 * 1024,
  retryAfterMillis: 20
}
const MAX_PENDING_REQUESTS = 16
/** Clients of a burst: enough to exceed a node's limits several times over. */
const BURST_CLIENTS = 16
const BURST_DIRECTORY = "/.burst"
/** After a heal, a write must succeed within this. */
export const LIVENESS_BOUND_MILLIS = 20_000
/**
 * A client gives up on an operation after this (its outcome is then indeterminate): short, so a
 * client stuck on a deposed leader moves on to reads that leader must not serve.
 */
const OPERATION_TIMEOUT = Duration.seconds(1)
const PROBE_DIRECTORY = "/.probe"
const PROBE_BYTES = new Uint8Array(100).fill(7)
const BURST_BYTES = new Uint8Array(1000).fill(9)

/** A verdict for checks this harness makes itself (liveness, booting). */
const harnessVerdict = (problems: ReadonlyArray<string>, checked: number): Verdict =>
  problems.length === 0 ? { valid: true, checked } : { valid: false, reason: problems.join("; "), subHistory: [] }

export const runSimulation = (options: SimulationOptions): Effect.Effect<SimulationResult> => {
  const clock = new SimulatedClock()
  const seed = options.seed
  const nodeCount = options.nodes ?? 3
  const durationMillis = options.durationMillis ?? 20_000

  /** Run `effect` on simulated time until it completes or `limitMillis` more pass; none on the latter. */
  const drive = <A, E>(effect: Effect.Effect<A, E>, limitMillis: number) =>
    Effect.gen(function*() {
      const fiber = yield* Effect.fork(effect)
      let done = false
      yield* Effect.fork(Effect.ensuring(Fiber.await(fiber), Effect.sync(() => { done = true })))
      yield* clock.runUntil(() => done, clock.millis + limitMillis)
      if (!done) {
        yield* Fiber.interruptFork(fiber)
        // Its finalizers may sleep too: drive them, or the run would wait on them forever.
        yield* clock.runUntil(() => done, clock.millis + limitMillis)
        return Option.none<Exit.Exit<A, E>>()
      }
      return Option.some(yield* Fiber.await(fiber))
    })

  const program = Effect.gen(function*() {
    const network = yield* makeSimNetwork({ seed, clock })
    const cluster = yield* makeSimCluster({
      clock,
      nodes: nodeCount,
      seed,
      network,
      chunkSize: CHUNK_SIZE,
      replication: REPLICATION,
      diskLatency: DISK_LATENCY,
      orphanIntervalMillis: ORPHAN_INTERVAL_MILLIS,
      garbageIntervalMillis: GARBAGE_INTERVAL_MILLIS,
      snapshotThreshold: SNAPSHOT_THRESHOLD,
      snapshotCatchUpEntries: SNAPSHOT_CATCH_UP_ENTRIES,
      transactionTtlMillis: TRANSACTION_TTL_MILLIS,
      orphanGraceMillis: ORPHAN_GRACE_MILLIS,
      sessionTimeoutMillis: SESSION_TIMEOUT_MILLIS,
      sessionPruneInterval: SESSION_PRUNE_INTERVAL,
      admission: SIM_ADMISSION,
      maxPendingRequests: MAX_PENDING_REQUESTS,
      ...(options.plantedBug === undefined ? {} : { plantedBug: options.plantedBug })
    })
    const addresses = cluster.nodes.map((n) => n.address)
    const recorder = makeRecorder()
    const faults: Array<FaultRecord> = []
    const livenessViolations: Array<string> = []
    let probes = 0

    const probeClient = yield* Layer.build(simulatedClient(network, "probe", addresses, 0)).pipe(
      Effect.map((context) => Context.get(context, SandstoreClient)),
      Effect.retry({ times: 20 }),
      Effect.orDie,
      Effect.forkScoped
    )

    /**
     * Writes succeed within the bound, else a liveness violation: a namespace change and a data
     * write (a file written, then removed, in a directory under the probe directory).
     */
    const availableAfterHeal = (healedAt: number): Effect.Effect<Option.Option<string>> =>
      Effect.gen(function*() {
        const client = yield* Fiber.join(probeClient)
        const name = `${PROBE_DIRECTORY}/${probes++}`
        const file = `${name}/file`
        const write = Effect.all([
          client.mkdir(name, { recursive: true }),
          Effect.scoped(Effect.flatMap(client.openScoped(file, "w"), (handle) =>
            Effect.zipRight(handle.write(PROBE_BYTES), handle.sync))),
          Effect.catchTag(client.unlink(file), "NotFound", () => Effect.void),
          client.rmdir(name)
        ], { discard: true }).pipe(Effect.retry({ while: () => true, times: 1000 }))
        const outcome = yield* write.pipe(Effect.timeout(Duration.millis(LIVENESS_BOUND_MILLIS)), Effect.either)
        return outcome._tag === "Right"
          ? Option.none()
          : Option.some(`no write succeeded within ${LIVENESS_BOUND_MILLIS} ms of the heal at ${healedAt} ms (${outcome.left._tag})`)
      }).pipe(Effect.catchAllCause((cause) => Effect.succeed(Option.some(`liveness probe failed: ${cause}`))))

    /**
     * A burst of BURST_CLIENTS extra clients writing small files as fast as they can until
     * `until` (simulated time); their operations are not part of the history.
     */
    const burst = (until: number): Effect.Effect<void> =>
      Effect.forEach(Array.from({ length: BURST_CLIENTS }, (_, k) => k), (k) =>
        Effect.gen(function*() {
          const client = yield* SandstoreClient
          const file = `${BURST_DIRECTORY}/b${k}`
          yield* Effect.ignore(client.mkdir(BURST_DIRECTORY, { recursive: true }))
          while ((yield* Clock.currentTimeMillis) < until) {
            yield* Effect.ignore(client.writeFile(file, BURST_BYTES).pipe(Effect.timeout(OPERATION_TIMEOUT)))
          }
        }).pipe(Effect.provide(simulatedClient(network, `b${k}`, addresses, k)), Effect.ignore), { concurrency: "unbounded", discard: true })

    // 1. Once the first leader is elected, the workload and the nemesis, side by side.
    const elected = yield* drive(awaitLeader(cluster), LIVENESS_BOUND_MILLIS)
    if (Option.isNone(elected)) livenessViolations.push(`no leader was elected within ${LIVENESS_BOUND_MILLIS} ms of booting`)
    const startedAt = clock.millis
    const plan = options.faults === false ? [] : options.plan ?? (yield* planFaults(seed, durationMillis))
    const clients = options.clients ?? 4
    const workload = runWorkload({
      ...(options.plantedBug === "lowEntropySessionIds" ? { sessionIds: lowEntropySessionIds } : {}),
      clients,
      seed,
      chunkSize: CHUNK_SIZE,
      addresses,
      network,
      recorder,
      stopAt: startedAt + durationMillis,
      operationTimeout: OPERATION_TIMEOUT
    })
    const nemesis = runNemesis({
      cluster,
      network,
      plan,
      clients: Array.from({ length: clients }, (_, i) => clientHost(i)),
      stopAt: startedAt + durationMillis,
      seed,
      faults,
      availableAfterHeal,
      livenessViolations,
      burst
    })
    const ran = yield* drive(
      Effect.all([workload, nemesis], { concurrency: 2, discard: true }),
      durationMillis + LIVENESS_BOUND_MILLIS + Duration.toMillis(OPERATION_TIMEOUT) * 2
    )
    if (Option.isNone(ran)) livenessViolations.push("the workload and the nemesis did not finish in time")

    // 2. Heal everything, bring every node back, and check the cluster serves writes.
    yield* network.heal
    for (const node of cluster.nodes) {
      if (!cluster.isUp(node.id)) {
        faults.push({ time: clock.millis, action: `restart ${node.id}` })
        yield* cluster.restart(node.id)
      }
    }
    const final = yield* drive(availableAfterHeal(clock.millis), LIVENESS_BOUND_MILLIS + 1000)
    if (Option.isNone(final)) livenessViolations.push("the final liveness probe did not finish")
    else if (Exit.isSuccess(final.value) && Option.isSome(final.value.value)) livenessViolations.push(final.value.value.value)

    // 3. Let the collector finalize in-doubt versions and delete orphans past the grace; then
    //    every node catches up with the leader.
    yield* drive(Effect.never, ORPHAN_GRACE_MILLIS + 2 * ORPHAN_INTERVAL_MILLIS + 5_000)
    yield* drive(Effect.ignore(Effect.flatMap(Fiber.join(probeClient), (client) => client.rmdir(PROBE_DIRECTORY))), 10_000)
    yield* drive(caughtUp(cluster), 30_000)

    // 4. The final state, and the verdicts.
    const readClient = yield* Fiber.join(probeClient)
    const readOutcome = yield* drive(readBack(readClient, [PROBE_DIRECTORY, APPEND_LOG, BURST_DIRECTORY]), 60_000)
    const readBackState = Option.isSome(readOutcome) && Exit.isSuccess(readOutcome.value)
      ? readOutcome.value.value
      : { files: [], directories: [] }
    const logOutcome = yield* drive(readAppendLog(readClient), 60_000)
    const finalState: FinalState = {
      nodes: yield* clusterMetadata(cluster),
      chunks: yield* storedChunks(cluster),
      ...readBackState,
      appendLog: Option.isSome(logOutcome) && Exit.isSuccess(logOutcome.value) ? logOutcome.value.value : null
    }
    const history = recorder.history()
    const loads = yield* cluster.loads
    const overloaded = loads.flatMap((load) =>
      load.peakRequests > SIM_ADMISSION.maxRequests || load.peakBytes > SIM_ADMISSION.maxBytes
        ? [`${load.nodeId} had ${load.peakRequests} requests and ${load.peakBytes} bytes in flight at once (limits ${SIM_ADMISSION.maxRequests}, ${SIM_ADMISSION.maxBytes})`]
        : [])
    const harness: Array<NamedVerdict> = [
      { name: "bounded load", verdict: harnessVerdict(overloaded, loads.length) },
      { name: "liveness", verdict: harnessVerdict(livenessViolations, faults.filter((f) => f.action === "heal").length + 1) },
      { name: "recovery", verdict: harnessVerdict([...cluster.bootFailures, ...(Option.isNone(readOutcome) || Exit.isFailure(readOutcome.value) ? ["the final read-back did not finish"] : [])], nodeCount) }
    ]
    const verdicts = [...harness, ...checkAll({ history, finalState }, { chunkSize: CHUNK_SIZE, ...options.check })]
    return {
      seed,
      simulatedMillis: clock.millis,
      operations: history.filter((e) => e.type === "invoke").length,
      faults,
      traceHash: traceHash(history, faults),
      history,
      finalState,
      verdicts
    } satisfies SimulationResult
  })

  // The run's scope closes on simulated time too: nodes and clients shutting down may sleep.
  const closingOnTime = Effect.gen(function*() {
    const scope = yield* Scope.make()
    const result = yield* program.pipe(Scope.extend(scope))
    yield* drive(Scope.close(scope, Exit.void), 60_000)
    return result
  })

  return closingOnTime.pipe(
    Effect.withClock(clock),
    Effect.withRandom(Random.make(seed)),
    Effect.withScheduler(simulationScheduler),
    Logger.withMinimumLogLevel(options.logLevel ?? LogLevel.None)
  )
}

const awaitLeader = (cluster: SimCluster): Effect.Effect<void> =>
  Effect.gen(function*() {
    while ((yield* currentLeader(cluster)) === undefined) yield* Effect.sleep(Duration.millis(10))
  })

/** Every running node has applied what the leader has committed. */
const caughtUp = (cluster: SimCluster): Effect.Effect<void> =>
  Effect.gen(function*() {
    while (true) {
      const leader = yield* currentLeader(cluster)
      if (leader !== undefined) {
        const leaderStatus = yield* cluster.status(leader)
        let behind = false
        for (const node of cluster.nodes) {
          const status = yield* cluster.status(node.id)
          if (Option.isSome(status) && Option.isSome(leaderStatus) && status.value.appliedIndex < leaderStatus.value.commitIndex) behind = true
        }
        if (!behind) return
      }
      yield* Effect.sleep(Duration.millis(100))
    }
  })
