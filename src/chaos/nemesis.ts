/**
 * The nemesis: faults injected into the local cluster one at a time, chosen from the run's
 * seed. A fault is `kill` (SIGKILL a random node, restart it after a while), `kill-leader`
 * (the same, aimed at the current leader), `pause` (SIGSTOP a random node, SIGCONT it later) or
 * `quorum-loss` (kill or pause just enough nodes that no majority is left, briefly: the
 * cluster must refuse writes, then recover). Between faults the cluster is whole for a while,
 * so for most of the run at most one node is down or paused.
 *
 * Faults come in rounds, each a shuffle of the round's kinds: the first round has no quorum
 * loss and holds two kills and two pauses, so even a short run sees both; later rounds add one
 * quorum loss.
 */
import { Clock, Duration, Effect, Option, Random } from "effect"
import type { PlatformError } from "@effect/platform/Error"
import type { LocalCluster } from "./localCluster.ts"

export type FaultKind = "kill" | "kill-leader" | "pause" | "quorum-loss"

export interface FaultTarget {
  readonly nodeId: string
  readonly action: "kill" | "pause"
}

export interface Fault {
  readonly kind: FaultKind
  readonly targets: ReadonlyArray<FaultTarget>
  /** Milliseconds since the run started: every target down or paused (after SIGKILL's exit). */
  readonly start: number
  /** Milliseconds since the run started: the first target is about to be restarted or resumed. */
  readonly end: number
  /** e.g. "no leader known: aimed at a random node" */
  readonly note?: string
}

export interface NemesisOptions {
  readonly cluster: LocalCluster
  readonly seed: number
  readonly startedAt: number
  /** Clock time (ms) at or after which no fault is injected; the last one still heals. */
  readonly stopAt: number
  /** Called with each fault once it has healed. */
  readonly onFault?: (fault: Fault) => Effect.Effect<void>
}

const FIRST_ROUND: ReadonlyArray<FaultKind> = ["kill", "pause", "kill-leader", "pause"]
const LATER_ROUND: ReadonlyArray<FaultKind> = ["kill", "pause", "kill-leader", "pause", "quorum-loss"]

/** Healthy time between faults, and how long a fault lasts (ms). */
const GAP = [1000, 3000] as const
const HOLD = [1000, 4000] as const
const QUORUM_LOSS_HOLD = [1000, 2500] as const

const between = (range: readonly [number, number]) => Random.nextIntBetween(range[0], range[1] + 1)

const pick = <A>(items: ReadonlyArray<A>) => Effect.map(Random.nextIntBetween(0, items.length), (i) => items[i]!)

const shuffled = <A>(items: ReadonlyArray<A>) => Effect.map(Random.shuffle(items), (chunk) => [...chunk])

const since = (startedAt: number) => Effect.map(Clock.currentTimeMillis, (now) => now - startedAt)

/** Apply the targets' faults, hold, then undo them; the fault as it happened. */
const inject = (
  options: NemesisOptions,
  kind: FaultKind,
  targets: ReadonlyArray<FaultTarget>,
  hold: number,
  note?: string
): Effect.Effect<Fault, PlatformError> =>
  Effect.gen(function*() {
    const { cluster } = options
    yield* Effect.forEach(targets, (t) => (t.action === "kill" ? cluster.kill(t.nodeId) : cluster.pause(t.nodeId)), {
      concurrency: "unbounded",
      discard: true
    })
    const start = yield* since(options.startedAt)
    yield* Effect.sleep(Duration.millis(hold))
    const end = yield* since(options.startedAt)
    yield* Effect.forEach(targets, (t) => (t.action === "kill" ? cluster.start(t.nodeId) : cluster.resume(t.nodeId)), {
      discard: true
    })
    return note === undefined ? { kind, targets, start, end } : { kind, targets, start, end, note }
  })

const nextFault = (options: NemesisOptions, kind: FaultKind) =>
  Effect.gen(function*() {
    const { cluster } = options
    switch (kind) {
      case "kill":
      case "pause":
        return yield* inject(options, kind, [{ nodeId: yield* pick(cluster.ids), action: kind }], yield* between(HOLD))
      case "kill-leader": {
        const leader = yield* cluster.currentLeader
        const nodeId = Option.isSome(leader) ? leader.value : yield* pick(cluster.ids)
        const note = Option.isSome(leader) ? undefined : "no leader known: aimed at a random node"
        return yield* inject(options, kind, [{ nodeId, action: "kill" }], yield* between(HOLD), note)
      }
      case "quorum-loss": {
        const majority = Math.floor(cluster.ids.length / 2) + 1
        const victims = (yield* shuffled(cluster.ids)).slice(0, cluster.ids.length - majority + 1)
        const targets = yield* Effect.forEach(victims, (nodeId) =>
          Effect.map(Random.nextBoolean, (kill): FaultTarget => ({ nodeId, action: kill ? "kill" : "pause" })))
        return yield* inject(options, kind, targets, yield* between(QUORUM_LOSS_HOLD))
      }
    }
  })

/** Faults until `stopAt`, every one healed when this ends; resolves with them in order. */
export const runNemesis = (options: NemesisOptions): Effect.Effect<ReadonlyArray<Fault>, PlatformError> =>
  Effect.gen(function*() {
    const faults: Array<Fault> = []
    let round = yield* shuffled(FIRST_ROUND)
    while (true) {
      yield* Effect.sleep(Duration.millis(yield* between(GAP)))
      if ((yield* Clock.currentTimeMillis) >= options.stopAt) return faults
      if (round.length === 0) round = yield* shuffled(LATER_ROUND)
      const fault = yield* nextFault(options, round.shift()!)
      faults.push(fault)
      if (options.onFault) yield* options.onFault(fault)
    }
  }).pipe(Effect.withRandom(Random.make(`chaos/${options.seed}/nemesis`)))
