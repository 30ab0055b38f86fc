/**
 * The nemesis: a fault schedule drawn from the seed, then carried out against the cluster.
 * Faults come one at a time — inject, hold, heal, rest — so each heal is followed by a check
 * that the cluster is available again. Kinds: partitions (a majority from a minority, the
 * leader isolated, a bridge: two sides that each still see one middle node), crashes and
 * restarts (one node, the leader, every node; each a power loss that may keep, lose or tear
 * the unsynced WAL tail and lose unsynced metadata batches), unreliable links (drops that
 * reset connections, duplicated requests, long delays with reordering), lost replies (the
 * request is carried out, the client never hears and resends), clients cut off for longer
 * than the session timeout, clock jumps (a node's wall
 * clock, usually the leader's, jumps minutes to hours ahead or behind, until a time service
 * steps it back at the heal), and hung disks (a node's fsyncs stop completing for seconds).
 */
import { Clock, Duration, Effect, Option, Random } from "effect"
import type { DiskCrash } from "./disk.ts"
import type { SimCluster, SimNode } from "./cluster.ts"
import type { SimNetwork } from "./network.ts"

export type FaultKind =
  | "partition-majority"
  | "isolate-leader"
  | "bridge"
  | "crash-one"
  | "crash-leader"
  | "crash-all"
  | "flaky-links"
  | "clock-jump"
  | "stall-disk"
  | "lose-replies"
  | "client-away"
  | "overload"

export interface PlannedFault {
  readonly kind: FaultKind
  /** Quiet time before the fault (after the previous one healed and the cluster served again), and how long it holds. */
  readonly restMillis: number
  readonly holdMillis: number
  /** For partitions and crashes of one node: which node (by index, modulo the node count). */
  readonly pick: number
  readonly crash: DiskCrash
  /** For a clock jump: by how many minutes (drawn when absent). */
  readonly jumpMinutes?: number
}

/** What the nemesis did, for the report and the trace hash. */
export interface FaultRecord {
  readonly time: number
  readonly action: string
}

/** Kinds by weight: crashes (what loses unsynced data and restarts state machines) most often. */
const KIND_WEIGHTS: ReadonlyArray<readonly [FaultKind, number]> = [
  ["partition-majority", 3], ["isolate-leader", 3], ["bridge", 2], ["crash-one", 3], ["crash-leader", 4], ["crash-all", 5],
  ["flaky-links", 2], ["clock-jump", 2], ["stall-disk", 2], ["lose-replies", 5], ["client-away", 8], ["overload", 6]
]
const TOTAL_WEIGHT = KIND_WEIGHTS.reduce((sum, [, w]) => sum + w, 0)

/** A fault starts no later than this before the end of the run, so it heals inside it. */
const LAST_START_MARGIN_MILLIS = 500

/**
 * The schedule for a run of `durationMillis`: faults back to back after short rests. More are
 * planned than fit; the nemesis skips those that would not heal before the end.
 */
export const planFaults = (seed: number, durationMillis: number): Effect.Effect<ReadonlyArray<PlannedFault>> =>
  Effect.gen(function*() {
    const random = Random.make(seed * 104729 + 17)
    const plan: Array<PlannedFault> = []
    for (let planned = 0; planned < durationMillis; ) {
      let roll = yield* random.nextIntBetween(0, TOTAL_WEIGHT)
      let kind: FaultKind = "crash-one"
      for (const [name, weight] of KIND_WEIGHTS) {
        if (roll < weight) {
          kind = name
          break
        }
        roll -= weight
      }
      const restMillis = yield* random.nextIntBetween(100, 800)
      // A partition holds long enough, often, for the majority to elect a leader and write while
      // the old one still hears some clients; a crash may be brief.
      const holdMillis = kind === "crash-one" || kind === "crash-leader" || kind === "crash-all"
        ? yield* random.nextIntBetween(100, 1500)
        : kind === "stall-disk"
        ? yield* random.nextIntBetween(2500, 5000)
        : kind === "client-away"
        ? yield* random.nextIntBetween(2200, 4000)
        : yield* random.nextIntBetween(1200, 2500)
      const crash: DiskCrash = {
        // Power loss usually takes the whole page cache; sometimes a write or two got out first.
        walKeep: Math.max(0, (yield* random.nextIntBetween(0, 6)) - 3),
        walTear: yield* random.nextBoolean,
        metadataKeep: yield* random.nextIntBetween(0, 40)
      }
      plan.push({ kind, restMillis, holdMillis, pick: yield* random.nextIntBetween(0, 1000), crash })
      planned += restMillis + holdMillis
    }
    return plan
  })

export interface NemesisOptions {
  readonly cluster: SimCluster
  readonly network: SimNetwork
  readonly plan: ReadonlyArray<PlannedFault>
  /** The workload's client hosts: partitions split them too. */
  readonly clients: ReadonlyArray<string>
  /** No fault starts after this simulated time (less a margin to heal in). */
  readonly stopAt: number
  /** Seeds the flaky-link parameters. */
  readonly seed: number
  readonly faults: Array<FaultRecord>
  /** Checks the cluster serves a write again after a heal; resolves with an error text when not. */
  readonly availableAfterHeal: (healedAt: number) => Effect.Effect<Option.Option<string>>
  readonly livenessViolations: Array<string>
  /** A burst of extra clients writing as fast as they can until the given time. */
  readonly burst: (until: number) => Effect.Effect<void>
}

/** The current leader as the running nodes see it (the highest term's claim). */
export const currentLeader = (cluster: SimCluster) =>
  Effect.gen(function*() {
    let best: { readonly id: string; readonly term: number } | undefined
    for (const node of cluster.nodes) {
      const status = yield* cluster.status(node.id)
      if (Option.isSome(status) && status.value.role === "leader" && (best === undefined || status.value.term > best.term)) {
        best = { id: node.id, term: status.value.term }
      }
    }
    return best?.id
  })

export const runNemesis = (options: NemesisOptions): Effect.Effect<void> =>
  Effect.gen(function*() {
    const { cluster, network } = options
    const ids = cluster.nodes.map((n) => n.id)
    const random = Random.make(options.seed * 15485863 + 3)
    const log = (action: string) =>
      Effect.flatMap(Clock.currentTimeMillis, (time) => Effect.sync(() => options.faults.push({ time, action })))
    const nodeAt = (pick: number) => ids[pick % ids.length]!
    /** Half the clients (which half from `pick`) lose the minority side of a partition too. */
    const clientsCutFrom = (pick: number) => options.clients.filter((_, index) => (index + pick) % 2 === 0)
    const cutNote = (cut: ReadonlyArray<string>) => (cut.length === 0 ? "" : ` (and clients ${cut.join(",")})`)
    const crashNode = (id: string, crash: DiskCrash) =>
      Effect.zipRight(
        log(`crash ${id} (wal keep ${crash.walKeep}${crash.walTear ? ", torn" : ""}; metadata keep ${crash.metadataKeep})`),
        cluster.crash(id, crash)
      )

    for (const fault of options.plan) {
      yield* Effect.sleep(Duration.millis(fault.restMillis))
      if ((yield* Clock.currentTimeMillis) + fault.holdMillis > options.stopAt - LAST_START_MARGIN_MILLIS) continue
      const crashed: Array<string> = []
      const jumped: Array<{ readonly node: SimNode; readonly millis: number }> = []
      const stalledDisks: Array<SimNode> = []
      const slowDisks: Array<SimNode> = []
      switch (fault.kind) {
        case "partition-majority": {
          const shuffled = [...ids].sort((a, b) => ((ids.indexOf(a) * 7 + fault.pick) % 11) - ((ids.indexOf(b) * 7 + fault.pick) % 11))
          const minority = shuffled.slice(0, Math.floor(ids.length / 2))
          const majority = shuffled.slice(minority.length)
          const cut = clientsCutFrom(fault.pick)
          yield* log(`partition [${minority.join(",")}] from [${majority.join(",")}]${cutNote(cut)}`)
          yield* network.partition(minority, [...majority, ...cut])
          break
        }
        case "isolate-leader": {
          const leader = (yield* currentLeader(cluster)) ?? nodeAt(fault.pick)
          const rest = ids.filter((id) => id !== leader)
          const cut = clientsCutFrom(fault.pick)
          yield* log(`isolate leader ${leader}${cutNote(cut)}`)
          // The other clients still reach the old leader, which must not serve them stale reads
          // while the cut ones move to the new leader and write.
          yield* network.partition([leader], [...rest, ...cut])
          break
        }
        case "bridge": {
          const middle = nodeAt(fault.pick)
          const others = ids.filter((id) => id !== middle)
          const left = others.slice(0, Math.ceil(others.length / 2))
          const right = others.slice(left.length)
          yield* log(`bridge: [${left.join(",")}] | ${middle} | [${right.join(",")}]`)
          yield* network.partition(left, right)
          break
        }
        case "crash-one": {
          const id = nodeAt(fault.pick)
          yield* crashNode(id, fault.crash)
          crashed.push(id)
          break
        }
        case "crash-leader": {
          const id = (yield* currentLeader(cluster)) ?? nodeAt(fault.pick)
          yield* crashNode(id, fault.crash)
          crashed.push(id)
          break
        }
        case "crash-all": {
          for (const id of ids) {
            yield* crashNode(id, fault.crash)
            crashed.push(id)
          }
          break
        }
        case "clock-jump": {
          // Usually the leader: its clock is the one that stamps what it proposes.
          const id = (fault.pick % 3 !== 0 ? yield* currentLeader(cluster) : undefined) ?? nodeAt(fault.pick)
          const node = cluster.nodes.find((n) => n.id === id)!
          const minutes = fault.jumpMinutes ??
            (yield* random.nextIntBetween(1, 121)) * ((yield* random.nextBoolean) ? 1 : -1)
          yield* log(`clock of ${id} jumps ${minutes > 0 ? "+" : ""}${minutes} min`)
          node.clock.skewMillis += minutes * 60_000
          jumped.push({ node, millis: minutes * 60_000 })
          break
        }
        case "stall-disk": {
          // A disk that stops completing fsyncs: the node must stop leading, not freeze the
          // cluster. Writes are checked to succeed while it hangs.
          const id = (fault.pick % 3 !== 0 ? yield* currentLeader(cluster) : undefined) ?? nodeAt(fault.pick)
          const node = cluster.nodes.find((n) => n.id === id)!
          yield* log(`fsyncs of ${id} hang`)
          yield* node.disks.wal.holdFsync
          stalledDisks.push(node)
          break
        }
        case "client-away": {
          // A client that stops hearing replies (its requests still arrive and are carried out),
          // then is cut off from every node for longer than the session timeout: its session
          // expires meanwhile, and it comes back resending what it never heard about.
          const away = fault.pick % 4 === 0
            ? options.clients.filter((_, index) => (index + fault.pick) % options.clients.length === 0)
            : options.clients
          yield* log(`clients ${away.join(",")} lose every reply, then are cut off from every node`)
          yield* network.loseReplies(away, 1)
          yield* Effect.sleep(Duration.millis(yield* random.nextIntBetween(300, 800)))
          yield* network.partition(away, ids)
          break
        }
        case "overload": {
          // Many more clients than a node takes at once, while the leader's disk is slow: its
          // queues must stay bounded (it answers Busy) and the cluster must stay available.
          const id = (yield* currentLeader(cluster)) ?? nodeAt(fault.pick)
          const node = cluster.nodes.find((n) => n.id === id)!
          const factor = yield* random.nextIntBetween(5, 20)
          yield* log(`burst of clients; fsyncs of ${id} ${factor}x slower`)
          yield* node.disks.slowDown(factor)
          slowDisks.push(node)
          yield* Effect.fork(options.burst((yield* Clock.currentTimeMillis) + fault.holdMillis))
          break
        }
        case "lose-replies": {
          // Requests get through and are carried out; most of their replies to these clients do not.
          const rate = (yield* random.nextIntBetween(30, 80)) / 100
          const losing = fault.pick % 2 === 0 ? options.clients : clientsCutFrom(fault.pick)
          yield* log(`replies to ${losing.join(",")} lost at ${rate}`)
          yield* network.loseReplies(losing, rate)
          break
        }
        case "flaky-links": {
          const faults = {
            dropRate: (yield* random.nextIntBetween(0, 4)) / 100,
            duplicateRate: (yield* random.nextIntBetween(0, 10)) / 100,
            minDelayMillis: 1,
            maxDelayMillis: yield* random.nextIntBetween(5, 60),
            reorder: yield* random.nextBoolean
          }
          yield* log(
            `flaky links: drop ${faults.dropRate}, duplicate ${faults.duplicateRate}, delay 1-${faults.maxDelayMillis} ms${faults.reorder ? ", reordered" : ""}`
          )
          yield* network.setFaults(faults)
          break
        }
      }
      yield* Effect.sleep(Duration.millis(fault.holdMillis))
      for (const node of stalledDisks) {
        const problem = yield* options.availableAfterHeal(yield* Clock.currentTimeMillis)
        if (Option.isSome(problem)) options.livenessViolations.push(`while the disk of ${node.id} hung: ${problem.value}`)
      }
      yield* network.heal
      // A time service steps the clock back; a hung disk comes back.
      for (const { millis, node } of jumped) node.clock.skewMillis -= millis
      for (const node of stalledDisks) yield* node.disks.wal.releaseFsync
      for (const node of slowDisks) yield* node.disks.slowDown(1)
      for (const id of crashed) {
        yield* log(`restart ${id}`)
        yield* cluster.restart(id)
      }
      yield* log("heal")
      const problem = yield* options.availableAfterHeal(yield* Clock.currentTimeMillis)
      if (Option.isSome(problem)) options.livenessViolations.push(problem.value)
    }
  })
