/**
 * The chaos run's own local cluster: real `sandstore node` processes (hyperconverged, static
 * membership or etcd) that the nemesis can kill with SIGKILL, pause with SIGSTOP, resume and
 * restart on the same port and data dir.
 *
 * Each process lives in a scope of its own, forked from the cluster's scope, so closing the
 * cluster (end of the run, Ctrl-C) stops every node still running, all at once. A paused process does not
 * act on SIGTERM until it is continued, so stopping resumes it first, then sends SIGTERM and
 * falls back to SIGKILL if the node has not exited in time.
 *
 * A node that exits without being told to is recorded as a crash, with the last lines it
 * printed, and counted down; `heal` starts it again.
 */
import { Command } from "@effect/platform"
import { CommandExecutor } from "@effect/platform/CommandExecutor"
import type { PlatformError } from "@effect/platform/Error"
import { NodeSocketServer } from "@effect/platform-node"
import { Clock, Duration, Effect, Either, ExecutionStrategy, Exit, type Option, Schedule, Scope, Stream } from "effect"
import { fileURLToPath } from "node:url"
import { Unavailable } from "../domain/errors.ts"
import type { Communicator } from "../services/Communicator.ts"
import { askSeeds, verdict } from "../client/clusterStatus.ts"
import { nodeLaunch } from "../lib/nodeLaunch.ts"

const BIN = fileURLToPath(new URL("../../bin/sandstore.mjs", import.meta.url))

/** Lines of each node's output kept to explain a crash. */
const OUTPUT_LINES = 40

/** How long a node gets to stop after SIGTERM before it is killed. */
const STOP_GRACE = "10 seconds"

export type NodeState = "running" | "paused" | "down"

export interface NodeCrash {
  readonly nodeId: string
  /** Milliseconds since the cluster started. */
  readonly at: number
  readonly exit: string
  readonly lastOutput: ReadonlyArray<string>
}

export interface LocalClusterOptions {
  readonly nodes: number
  readonly host: string
  /** Node i listens on basePort + i - 1; 0 picks a free port for each node. */
  readonly basePort: number
  /** Parent of the nodes' data dirs (one subdirectory per node). */
  readonly dataDir: string
  /** etcd endpoints host:port,... for etcd membership (default: the static list). */
  readonly etcd?: string
}

export interface LocalCluster {
  readonly ids: ReadonlyArray<string>
  readonly addresses: ReadonlyArray<string>
  readonly state: (id: string) => NodeState
  readonly start: (id: string) => Effect.Effect<void, PlatformError>
  /** SIGKILL, resolved once the process has exited. */
  readonly kill: (id: string) => Effect.Effect<void>
  /** SIGSTOP: the process stays, its sockets stay open, it answers nothing. */
  readonly pause: (id: string) => Effect.Effect<void>
  /** SIGCONT of a paused node. */
  readonly resume: (id: string) => Effect.Effect<void>
  /** Every node running: paused ones resumed, down ones started. */
  readonly heal: Effect.Effect<void, PlatformError>
  /** The leader's id if exactly one reachable node leads right now (one round of questions). */
  readonly currentLeader: Effect.Effect<Option.Option<string>>
  /** The leader's id once exactly one node leads, asking again until `within` has passed. */
  readonly awaitLeader: (within: Duration.DurationInput) => Effect.Effect<string, Unavailable>
  readonly crashes: () => ReadonlyArray<NodeCrash>
}

interface Running {
  readonly process: {
    readonly pid: number
    readonly kill: (signal: "SIGKILL" | "SIGTERM") => Effect.Effect<void, PlatformError>
  }
  readonly scope: Scope.CloseableScope
  paused: boolean
  /** Set before the chaos run itself ends the process, so its exit is not a crash. */
  stopping: boolean
}

interface Slot {
  readonly id: string
  readonly address: string
  running: Running | undefined
  readonly output: Array<string>
}

/** A port the OS found free a moment ago. */
const freePort = (host: string) =>
  Effect.scoped(Effect.map(NodeSocketServer.make({ host, port: 0 }), (server) =>
    server.address._tag === "TcpAddress" ? server.address.port : 0))

const signal = (pid: number, name: "SIGSTOP" | "SIGCONT") =>
  Effect.try(() => process.kill(pid, name)).pipe(Effect.ignore)

export const makeLocalCluster = (
  options: LocalClusterOptions
): Effect.Effect<LocalCluster, PlatformError | Unavailable, Scope.Scope | CommandExecutor | Communicator> =>
  Effect.gen(function*() {
    // Parallel: closing the cluster stops every node at once, not one grace period after another.
    const clusterScope = yield* Scope.fork(yield* Effect.scope, ExecutionStrategy.parallel)
    const communicator = yield* Effect.context<Communicator>()
    const executor = yield* CommandExecutor
    const startedAt = yield* Clock.currentTimeMillis
    const ids = Array.from({ length: options.nodes }, (_, k) => `n${k + 1}`)
    const ports = options.basePort === 0
      ? yield* Effect.forEach(ids, () => freePort(options.host)).pipe(
        Effect.mapError((error) => new Unavailable({ message: `cannot find a free port: ${error.message}` }))
      )
      : ids.map((_, k) => options.basePort + k)
    const addresses = ports.map((port) => `${options.host}:${port}`)
    const peers = ids.map((id, k) => `${id}=${addresses[k]}`).join(",")
    const slots = new Map<string, Slot>(ids.map((id, k) => [id, { id, address: addresses[k]!, running: undefined, output: [] }]))
    const crashes: Array<NodeCrash> = []
    const slot = (id: string) => slots.get(id)!

    const args = (s: Slot) => [
      "node",
      "--id", s.id,
      "--listen", s.address,
      "--data-dir", `${options.dataDir}/${s.id}`,
      "--topology", "hyperconverged",
      "--peers", peers,
      ...(options.etcd === undefined ? [] : ["--membership", "etcd", "--etcd", options.etcd])
    ]

    const keepOutput = (s: Slot, stream: Stream.Stream<Uint8Array, PlatformError>) =>
      stream.pipe(
        Stream.decodeText(),
        Stream.splitLines,
        Stream.runForEach((line) =>
          Effect.sync(() => {
            s.output.push(line)
            if (s.output.length > OUTPUT_LINES) s.output.shift()
          })
        ),
        Effect.ignore
      )

    /** Resume if paused, SIGTERM, SIGKILL after the grace period; then close the process's scope. */
    const stopGracefully = (running: Running) =>
      Effect.gen(function*() {
        running.stopping = true
        if (running.paused) yield* signal(running.process.pid, "SIGCONT")
        yield* running.process.kill("SIGTERM").pipe(
          Effect.timeoutFail({ duration: STOP_GRACE, onTimeout: () => "grace period over" }),
          Effect.catchAll(() => Effect.ignore(running.process.kill("SIGKILL")))
        )
      })

    const start = (id: string) =>
      Effect.uninterruptible(
        Effect.gen(function*() {
          const s = slot(id)
          if (s.running !== undefined) return
          const scope = yield* Scope.fork(clusterScope, ExecutionStrategy.sequential)
          const launch = nodeLaunch(BIN, args(s))
          const child = yield* Command.start(Command.make(process.execPath, ...launch.args).pipe(Command.env(launch.env))).pipe(
            Effect.provideService(CommandExecutor, executor),
            Scope.extend(scope),
            Effect.onError(() => Scope.close(scope, Exit.void))
          )
          const running: Running = { process: child, scope, paused: false, stopping: false }
          // Runs before the platform's own release, which would wait forever on a paused process.
          yield* Scope.addFinalizer(scope, Effect.suspend(() => (running.stopping ? Effect.void : stopGracefully(running))))
          s.running = running
          // Forked interruptible: a fiber forked here would inherit this region's uninterruptibility.
          yield* Effect.forkIn(Effect.interruptible(keepOutput(s, child.stdout)), scope)
          yield* Effect.forkIn(Effect.interruptible(keepOutput(s, child.stderr)), scope)
          yield* Effect.forkIn(
            Effect.interruptible(Effect.gen(function*() {
              const code = yield* Effect.either(child.exitCode)
              if (running.stopping) return
              const at = (yield* Clock.currentTimeMillis) - startedAt
              crashes.push({
                nodeId: id,
                at,
                exit: code._tag === "Right" ? `exit code ${code.right}` : code.left.message,
                lastOutput: [...s.output]
              })
              running.stopping = true
              if (s.running === running) s.running = undefined
              yield* Effect.forkDaemon(Scope.close(scope, Exit.void))
            })),
            scope
          )
        })
      )

    const kill = (id: string) =>
      Effect.uninterruptible(Effect.gen(function*() {
        const s = slot(id)
        const running = s.running
        if (running === undefined) return
        running.stopping = true
        s.running = undefined
        yield* Effect.ignore(running.process.kill("SIGKILL"))
        yield* Scope.close(running.scope, Exit.void)
      }))

    const pause = (id: string) =>
      Effect.suspend(() => {
        const running = slot(id).running
        if (running === undefined || running.paused) return Effect.void
        running.paused = true
        return signal(running.process.pid, "SIGSTOP")
      })

    const resume = (id: string) =>
      Effect.suspend(() => {
        const running = slot(id).running
        if (running === undefined || !running.paused) return Effect.void
        running.paused = false
        return signal(running.process.pid, "SIGCONT")
      })

    // Asking a node that is being killed can end in a transport defect; that is no answer, not the end of the run.
    const leaderNow: Effect.Effect<Either.Either<string, string>> = askSeeds(addresses).pipe(
      Effect.map((answers) => {
        const v = verdict(answers)
        return v.healthy ? Either.right(v.leaderId) : Either.left(v.reason)
      }),
      Effect.catchAllDefect((defect) => Effect.succeed(Either.left(`asking for the leader failed: ${String(defect)}`))),
      Effect.provide(communicator)
    )

    const currentLeader = Effect.map(leaderNow, Either.getRight)

    const awaitLeader = (within: Duration.DurationInput) =>
      leaderNow.pipe(
        Effect.flatMap((answer) =>
          Either.isRight(answer) ? Effect.succeed(answer.right) : Effect.fail(new Unavailable({ message: answer.left }))
        ),
        Effect.retry(Schedule.spaced("200 millis").pipe(Schedule.upTo(within)))
      )

    yield* Effect.forEach(ids, start, { concurrency: "unbounded", discard: true })

    const cluster: LocalCluster = {
      ids,
      addresses,
      state: (id) => {
        const running = slot(id).running
        return running === undefined ? "down" : running.paused ? "paused" : "running"
      },
      start,
      kill,
      pause,
      resume,
      heal: Effect.forEach(ids, (id) => Effect.zipRight(resume(id), start(id)), { discard: true }),
      currentLeader,
      awaitLeader,
      crashes: () => [...crashes]
    }
    return cluster
  })
