/**
 * An in-process Raft cluster for tests: every node is a RaftReplicator over a simulated WAL
 * (layers/wal/memory.ts), an in-memory metadata store that survives the node's restarts
 * (unless a test replaces it) and the in-memory network, all under TestClock. With `disk`,
 * nodes use the real segmented-file WAL and classic-level store in that directory instead.
 *
 * Time moves only when a test moves it: `waitFor` and `settle` advance the clock one tick at a
 * time and let every fiber and promise run to quiescence in between, so a run is the same on
 * every machine. Each node's store counts the indices applied to it, across restarts.
 */
import { Context, Effect, Exit, Fiber, Layer, Option, Scope, TestClock } from "effect"
import { join } from "node:path"
import { makeMemoryNetwork, type MemoryNetwork } from "../../layers/raftTransport/memory.ts"
import { RaftReplicator, type RaftReplicatorOptions } from "../../layers/replicator/raft.ts"
import { MetadataServiceClassicLevel } from "../../layers/metadata/classicLevel.ts"
import { MetadataServiceMemory } from "../../layers/metadata/memory.ts"
import { makeSimulatedWal, type SimulatedWal } from "../../layers/wal/memory.ts"
import { WriteAheadLogFile } from "../../layers/wal/segmentedFile.ts"
import { makeSimulatedSnapshots, type SimulatedSnapshots } from "../../layers/snapshots/memory.ts"
import { SnapshotStoreFiles } from "../../layers/snapshots/files.ts"
import type { ReplicatorStatus } from "../../src/domain/cluster.ts"
import type { Corruption, IoError } from "../../src/domain/errors.ts"
import { EndpointResolver } from "../../src/services/EndpointResolver.ts"
import { MetadataReplicator, type MetadataReplicatorShape } from "../../src/services/MetadataReplicator.ts"
import { MetadataService, type MetadataServiceShape } from "../../src/services/MetadataService.ts"

export const CHUNK_SIZE = 1024 * 1024

/** The address the test resolver gives every node. */
export const addressOf = (nodeId: string) => `${nodeId}.raft.test:7000`

export const TestResolver = Layer.succeed(
  EndpointResolver,
  EndpointResolver.of({ resolve: (nodeId) => Effect.succeed(addressOf(nodeId)) })
)

export interface RaftClusterOptions {
  readonly ids?: ReadonlyArray<string>
  /** Options for every node's replicator (nodeId and voters are filled in). */
  readonly replicator?: Partial<RaftReplicatorOptions>
  readonly networkSeed?: number
  /** Real WALs and classic-level stores under this directory instead of simulated ones. */
  readonly disk?: string
}

interface TestNode {
  readonly id: string
  /** Memory mode: the node's simulated disk and its store, which outlive its restarts. */
  readonly wal: SimulatedWal
  readonly snapshots: SimulatedSnapshots
  store: MetadataServiceShape
  /** Every index applied to this node's stores, in order, across restarts. */
  readonly applied: Array<number>
  running: {
    readonly scope: Scope.CloseableScope
    readonly replicator: MetadataReplicatorShape
    readonly store: MetadataServiceShape
  } | undefined
}

/** `inner`, recording every index applied to it into `applied`. */
const counting = (inner: MetadataServiceShape, applied: Array<number>) =>
  MetadataService.of({
    ...inner,
    apply: (index, entry) => Effect.zipRight(Effect.sync(() => applied.push(index)), inner.apply(index, entry)),
    applyAll: (entries, onDecided) =>
      Effect.zipRight(Effect.sync(() => applied.push(...entries.map((item) => item.index))), inner.applyAll(entries, onDecided))
  })

/** Let every runnable fiber and pending in-memory promise (memory-level, the simulated WAL) finish. */
export const quiesce = Effect.promise(() => new Promise<void>((resolve) => setImmediate(resolve))).pipe(
  Effect.repeatN(4)
)

/** For real disks: also give the thread pool (fsync, LevelDB) a moment of real time. */
export const quiesceIo = Effect.zipRight(
  Effect.promise(() => new Promise<void>((resolve) => setTimeout(resolve, 2))),
  quiesce
)

export interface Driver {
  readonly tickMillis: number
  /** What runs between two clock steps (default `quiesce`). */
  readonly between?: Effect.Effect<void>
}

/** Step the TestClock by one tick at a time until `condition` holds; dies naming `what` after `maxTicks`. */
export const waitUntil = (driver: Driver, what: string, condition: Effect.Effect<boolean>, maxTicks = 400) =>
  Effect.gen(function*() {
    const between = driver.between ?? quiesce
    yield* between
    for (let i = 0; i <= maxTicks; i++) {
      if (yield* condition) return
      yield* TestClock.adjust(`${driver.tickMillis} millis`)
      yield* between
    }
    return yield* Effect.dieMessage(`${what} did not happen within ${maxTicks} ticks`)
  })

/** Run `effect` while stepping the clock, until it completes (at most `maxTicks`); its Exit. */
export const settleWith = <A, E>(driver: Driver, effect: Effect.Effect<A, E>, maxTicks = 400) =>
  Effect.gen(function*() {
    const fiber = yield* Effect.fork(effect)
    yield* waitUntil(driver, "an operation", Effect.map(Fiber.poll(fiber), Option.isSome), maxTicks)
    return yield* Fiber.await(fiber)
  })

export const makeRaftCluster = (options: RaftClusterOptions = {}) =>
  Effect.gen(function*() {
    const ids = options.ids ?? ["n1", "n2", "n3"]
    const tickMillis = options.replicator?.tickMillis ?? 50
    const clusterScope = yield* Effect.scope
    const network: MemoryNetwork = yield* makeMemoryNetwork({ seed: options.networkSeed ?? 7 })

    /** A fresh in-memory store, counting applies into `applied`. */
    const newStore = (applied: Array<number>) =>
      Effect.gen(function*() {
        const context = yield* Layer.buildWithScope(MetadataServiceMemory({ chunkSize: CHUNK_SIZE }), clusterScope)
        return counting(Context.get(context, MetadataService), applied)
      })

    const storage = (target: TestNode) => {
      if (options.disk === undefined) {
        return Layer.mergeAll(target.wal.layer, target.snapshots.layer, Layer.succeed(MetadataService, target.store))
      }
      const dir = join(options.disk, target.id)
      const store = Layer.effect(
        MetadataService,
        Effect.map(MetadataService, (inner) => counting(inner, target.applied))
      ).pipe(Layer.provide(MetadataServiceClassicLevel({ path: join(dir, "metadata"), chunkSize: CHUNK_SIZE })))
      return Layer.mergeAll(WriteAheadLogFile({ dir: join(dir, "wal") }), SnapshotStoreFiles({ dir: join(dir, "snapshots") }), store)
    }

    const nodes = new Map<string, TestNode>()
    for (const id of ids) {
      const applied: Array<number> = []
      nodes.set(id, {
        id,
        wal: yield* makeSimulatedWal(),
        snapshots: yield* makeSimulatedSnapshots,
        store: yield* newStore(applied),
        applied,
        running: undefined
      })
    }

    const node = (id: string): TestNode => {
      const found = nodes.get(id)
      if (found === undefined) throw new Error(`no node ${id} in the test cluster`)
      return found
    }

    const start = (id: string): Effect.Effect<void, IoError | Corruption> =>
      Effect.gen(function*() {
        const target = node(id)
        if (target.running !== undefined) return
        const scope = yield* Scope.make()
        const layer = RaftReplicator({ ...options.replicator, nodeId: id, voters: ids }).pipe(
          Layer.provideMerge(Layer.mergeAll(storage(target), network.transport(id), TestResolver))
        )
        const context = yield* Layer.buildWithScope(layer, scope).pipe(
          Effect.tapErrorCause(() => Scope.close(scope, Exit.void))
        )
        target.running = {
          scope,
          replicator: Context.get(context, MetadataReplicator),
          store: Context.get(context, MetadataService)
        }
      })

    const stop = (id: string) =>
      Effect.suspend(() => {
        const target = node(id)
        const running = target.running
        target.running = undefined
        return running === undefined ? Effect.void : Scope.close(running.scope, Exit.void)
      })

    const replicator = (id: string): MetadataReplicatorShape => {
      const running = node(id).running
      if (running === undefined) throw new Error(`node ${id} is not running`)
      return running.replicator
    }

    const statuses = Effect.gen(function*() {
      const result: Array<ReplicatorStatus> = []
      for (const target of nodes.values()) {
        if (target.running !== undefined) result.push(yield* target.running.replicator.status)
      }
      return result
    })

    const driver: Driver = { tickMillis, between: options.disk === undefined ? quiesce : quiesceIo }
    /** Advance the clock by one tick and let everything it wakes run. */
    const tick = Effect.zipRight(TestClock.adjust(`${tickMillis} millis`), driver.between!)
    const waitFor = (what: string, condition: Effect.Effect<boolean>, maxTicks = 400) =>
      waitUntil(driver, `test cluster: ${what}`, condition, maxTicks)
    const settle = <A, E>(effect: Effect.Effect<A, E>, maxTicks = 400) => settleWith(driver, effect, maxTicks)

    /** The one running node that leads, once every running node in `among` agrees on it. */
    const leader = (among: ReadonlyArray<string> = ids) =>
      Effect.gen(function*() {
        let found: string | undefined
        const agreed = Effect.gen(function*() {
          const views = (yield* statuses).filter((s) => among.includes(s.nodeId))
          const leaders = views.filter((s) => s.role === "leader")
          if (leaders.length !== 1) return false
          const chosen = leaders[0]!
          found = chosen.nodeId
          return views.every((s) => s.leaderId === chosen.nodeId && s.term === chosen.term)
        })
        yield* waitFor(`agreement on one leader among ${among.join(", ")}`, agreed)
        return found!
      })

    return {
      ids,
      network,
      tickMillis,
      start,
      stop,
      startAll: Effect.forEach(ids, start, { discard: true }),
      replicator,
      /** The node's store: the running session's (memory mode: also while stopped). */
      store: (id: string) => {
        const target = node(id)
        if (target.running !== undefined) return target.running.store
        if (options.disk !== undefined) throw new Error(`node ${id} is not running: its store on disk is closed`)
        return target.store
      },
      wal: (id: string) => node(id).wal,
      /** Memory mode: the node's simulated snapshot disk. */
      snapshots: (id: string) => node(id).snapshots,
      applied: (id: string): ReadonlyArray<number> => node(id).applied,
      /** Give `id` an empty store (as if its disk lost the store but kept the WAL); takes effect at its next start. */
      replaceStore: (id: string) => Effect.map(newStore(node(id).applied), (store) => { node(id).store = store }),
      /** Wrap `id`'s store (memory mode); takes effect at its next start. */
      wrapStore: (id: string, wrap: (store: MetadataServiceShape) => MetadataServiceShape) => {
        node(id).store = wrap(node(id).store)
      },
      statuses,
      status: (id: string) => replicator(id).status,
      tick,
      ticks: (n: number) => Effect.repeatN(tick, Math.max(0, n - 1)),
      waitFor,
      settle,
      leader
    }
  })

export type RaftCluster = Effect.Effect.Success<ReturnType<typeof makeRaftCluster>>
