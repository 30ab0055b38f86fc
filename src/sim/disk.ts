/**
 * The simulated disks of one node, which outlive its crashes: the write-ahead log
 * (layers/wal/memory.ts), the metadata store and the chunk store.
 *
 * Metadata: the state machine writes with `sync: false`, so a power loss may take its most
 * recent batches. Here the store is an in-memory persistent tree (layers/metadata/treeStore.ts);
 * each batch lands in the live tree at once and in a journal of unsynced batches; the oldest
 * become durable as the journal fills (the OS writing back), and a crash keeps only a prefix of
 * the journal. Losing recent batches is legal: the state machine stores its applied index in
 * each batch, and Raft replays the log from there.
 *
 * Chunks: ChunkServiceMemory semantics, durable once stage or commit returns. A boot gets a view
 * bound to its life, so an operation still running in a crashed node's fibers fails
 * instead of touching the disk of the node's next life.
 */
import { Effect, Hash, Layer } from "effect"
import { PCGRandom } from "effect/Utils"
import { makeChunkServiceMemory } from "../../layers/chunks/memory.ts"
import { makeNamespace, type NamespaceOptions } from "../../layers/metadata/namespace.ts"
import type { Store, Write } from "../../layers/metadata/store.ts"
import { applyWrites, emptyTree, makeTreeStore, type Tree } from "../../layers/metadata/treeStore.ts"
import { type CrashOptions, makeSimulatedWal, type SimulatedWal } from "../../layers/wal/memory.ts"
import { makeSimulatedSnapshots, type SimulatedSnapshots } from "../../layers/snapshots/memory.ts"
import { IoError } from "../domain/errors.ts"
import { ChunkService, type ChunkServiceShape } from "../services/ChunkService.ts"
import { MetadataService } from "../services/MetadataService.ts"

/** Unsynced metadata batches beyond this are written back (made durable), oldest first. */
const WRITEBACK_AFTER = 32

export interface DiskCrash {
  /** Unsynced WAL writes that reached the platter anyway (oldest first). */
  readonly walKeep?: number
  /** Whether the next unsynced WAL append was torn in half. */
  readonly walTear?: boolean
  /** Unsynced metadata batches that reached the platter anyway (oldest first; default none). */
  readonly metadataKeep?: number
}

export interface NodeDisks {
  readonly wal: SimulatedWal
  /** Raft snapshots: committed ones survive a crash, partial ones vanish. */
  readonly snapshots: SimulatedSnapshots
  /** The metadata state machine on this disk: a node booting. */
  readonly metadata: (options: NamespaceOptions) => Layer.Layer<MetadataService>
  /** The chunk store on this disk, for one boot. */
  readonly chunks: Layer.Layer<ChunkService>
  /** The chunk store, read directly (for the final state). */
  readonly chunkStore: ChunkServiceShape
  /** Power loss: the running node's disks stop working, unsynced data is lost (see DiskCrash). */
  readonly crash: (options?: DiskCrash) => Effect.Effect<void>
  /** From now on the WAL's fsyncs take `factor` times as long (1: back to normal). */
  readonly slowDown: (factor: number) => Effect.Effect<void>
}

export interface DiskLatency {
  /** Most fsyncs take between these (simulated milliseconds, drawn uniformly). */
  readonly fsyncMinMillis: number
  readonly fsyncMaxMillis: number
  /** Fraction of fsyncs that stall (a device flushing its cache, a noisy neighbour) for `stallMillis`. */
  readonly stallRate: number
  readonly stallMillis: number
}

/**
 * Each fsync's time in milliseconds (times `slowness()`: a disk under a noisy neighbour), from
 * the node's own seeded generator so other draws do not shift it. Drawn synchronously, as
 * `Random.make(seed)` would draw them (the same generator, seeded the same way).
 */
const fsyncTime = (latency: DiskLatency, seed: number, slowness: () => number) => {
  const prng = new PCGRandom(Hash.hash(seed))
  const between = (min: number, max: number) => prng.integer(max - min) + min
  return (): number => {
    const stall = between(0, 10_000) < latency.stallRate * 10_000
    const millis = stall ? latency.stallMillis : between(latency.fsyncMinMillis, latency.fsyncMaxMillis + 1)
    return millis * slowness()
  }
}

export const makeNodeDisks = (options: { readonly latency: DiskLatency; readonly seed: number }): Effect.Effect<NodeDisks> =>
  Effect.gen(function*() {
    let slowness = 1
    const wal = yield* makeSimulatedWal({ fsyncDelay: fsyncTime(options.latency, options.seed, () => slowness) })
    const snapshots = yield* makeSimulatedSnapshots
    let durable: Tree = emptyTree
    let journal: Array<ReadonlyArray<Write>> = []
    // Bumped by every crash: a node's life, which its disk views are bound to.
    let life = 0
    const chunkStore = yield* makeChunkServiceMemory

    const crashedError = (what: string) => new IoError({ message: `the simulated ${what} disk crashed` })

    /** A store starting from the durable tree; its writes also go to the journal. */
    const bootStore = Effect.sync(() => {
      const mine = life
      // Recovery: what reached the platter is what the node finds.
      durable = applyWrites(durable, journal.flat())
      journal = []
      const inner = makeTreeStore(durable, (batch) => {
        journal.push(batch)
        if (journal.length > WRITEBACK_AFTER) {
          durable = applyWrites(durable, journal.splice(0, journal.length - WRITEBACK_AFTER).flat())
        }
      })
      const store: Store = {
        ...inner,
        write: (writes) => (mine !== life ? Effect.fail(crashedError("metadata")) : inner.write(writes)),
        // A sync write: every batch journaled so far reaches the platter.
        flush: Effect.suspend(() => {
          if (mine !== life) return Effect.fail(crashedError("metadata"))
          durable = applyWrites(durable, journal.flat())
          journal = []
          return Effect.void
        })
      }
      return store
    })

    const metadata = (namespaceOptions: NamespaceOptions) =>
      Layer.effect(MetadataService, Effect.flatMap(bootStore, (store) => makeNamespace(store, namespaceOptions)).pipe(Effect.orDie))

    const bound = (mine: number): ChunkServiceShape => {
      const guard = <A, E>(effect: Effect.Effect<A, E>): Effect.Effect<A, E | IoError> =>
        Effect.suspend((): Effect.Effect<A, E | IoError> => (mine === life ? effect : Effect.fail(crashedError("chunk"))))
      return {
        stage: (versionId, data, checksum) => guard(chunkStore.stage(versionId, data, checksum)),
        stagePatch: (versionId, patch) => guard(chunkStore.stagePatch(versionId, patch)),
        repair: (versionId, data, checksum) => guard(chunkStore.repair(versionId, data, checksum)),
        commit: (versionIds) => guard(chunkStore.commit(versionIds)),
        abort: (versionId) => guard(chunkStore.abort(versionId)),
        read: (versionId, offset, length) => guard(chunkStore.read(versionId, offset, length)),
        remove: (versionIds) => guard(chunkStore.remove(versionIds)),
        list: guard(chunkStore.list)
      }
    }

    const crash = (crashOptions: DiskCrash = {}) =>
      Effect.gen(function*() {
        life++
        const walCrash: CrashOptions = { keep: crashOptions.walKeep ?? 0, tear: crashOptions.walTear ?? false }
        yield* wal.crash(walCrash)
        const keep = Math.max(0, Math.min(journal.length, crashOptions.metadataKeep ?? 0))
        journal = journal.slice(0, keep)
      })

    return {
      wal,
      snapshots,
      metadata,
      chunks: Layer.effect(ChunkService, Effect.sync(() => bound(life))),
      chunkStore,
      crash,
      slowDown: (factor) => Effect.sync(() => { slowness = factor })
    } satisfies NodeDisks
  })
