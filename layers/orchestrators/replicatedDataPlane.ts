/**
 * The replicated data plane. A write makes each touched chunk a new immutable version, staged
 * on every placement target in parallel: where the write leaves part of the old version, as a
 * patch of it (only the written bytes travel and are stored), else whole. The set goes to the
 * TransactionCoordinator; a Conflict (another writer committed one of those chunks first)
 * re-plans and retries. A read
 * takes the chunks overlapping the range from the control plane, fetches each from the first
 * replica that answers with verified bytes (repairing, in the background, any found damaged on
 * the way), and leaves holes as zeros.
 */
import { Duration, Effect, Layer, Random } from "effect"
import { forEachParallel } from "../../src/lib/forEachParallel.ts"
import { once } from "../../src/lib/once.ts"
import type { ChunkUpdate, RequestTag } from "../../src/domain/commands.ts"
import { Conflict, Corruption, Unavailable } from "../../src/domain/errors.ts"
import type { ChunkRef } from "../../src/domain/fs.ts"
import { crc32c } from "../../src/lib/crc32c.ts"
import { plannedBytes } from "../../src/lib/plannedBytes.ts"
import { parseVersionId } from "../../src/domain/versionId.ts"
import { ChunkPeers } from "../../src/services/ChunkPeers.ts"
import {
  ControlPlaneOrchestrator, type PlannedChunk, type ReadPlan, type WriteOffset, type WritePlan
} from "../../src/services/ControlPlaneOrchestrator.ts"
import { DataPlaneOrchestrator } from "../../src/services/DataPlaneOrchestrator.ts"
import { TransactionCoordinator } from "../../src/services/TransactionCoordinator.ts"
import { repairReplica } from "./replicaRepair.ts"

/** Backoff before re-planning a write that lost a version race: doubling from this, jittered, up to the max. */
const BASE_BACKOFF_MILLIS = 2
const MAX_BACKOFF_MILLIS = 200

export interface DataPlaneOptions {
  /**
   * How many times a write re-plans after losing a version race before answering Conflict.
   * Nothing of the request was applied then, and the client resends it under the same id.
   */
  readonly maxConflictRetries?: number
  /** Chunks fetched or staged at once by one request. */
  readonly concurrency?: number
}

export const ReplicatedDataPlane = (options: DataPlaneOptions = {}) =>
  Layer.scoped(
    DataPlaneOrchestrator,
    Effect.gen(function*() {
      // Background repairs of damaged replicas live as long as the layer.
      const scope = yield* Effect.scope
      const control = yield* ControlPlaneOrchestrator
      const coordinator = yield* TransactionCoordinator
      const peers = yield* ChunkPeers
      const maxRetries = options.maxConflictRetries ?? 16
      const concurrency = options.concurrency ?? 4

      /** Replicas being repaired now, as "versionId@node": a damaged copy read often is repaired once. */
      const repairing = new Set<string>()
      const repairInBackground = (chunk: ChunkRef, damaged: ReadonlyArray<string>) =>
        Effect.forEach(damaged, (node) => {
          const key = `${chunk.versionId}@${node}`
          if (repairing.has(key)) return Effect.void
          repairing.add(key)
          return repairReplica(peers, chunk, node).pipe(
            Effect.catchAll((error) => Effect.logWarning(`could not repair chunk version ${chunk.versionId} on node ${node}`, error)),
            Effect.ensuring(Effect.sync(() => repairing.delete(key))),
            Effect.forkIn(scope)
          )
        }, { discard: true })

      /**
       * This node's copy of `versionId` failed its checksums under a client's ReadVersion (the
       * client goes on to another replica): if the metadata still places the version here, it is
       * repaired in the background like one a read through here found. Needs a linearizable read
       * of the metadata, so only the leader does it; elsewhere the scrubber will.
       */
      const repairOwnCopy = (versionId: string) => {
        const parts = parseVersionId(versionId)
        if (parts === null) return Effect.void
        return Effect.gen(function*() {
          const { chunkSize } = yield* control.fsinfo
          const plan = yield* control.prepareRead(parts.inode, parts.index * chunkSize, 1)
          const chunk = plan.chunks.find((c) => c.versionId === versionId && c.nodes.includes(peers.selfId))
          if (chunk !== undefined) yield* repairInBackground(chunk, [peers.selfId])
        }).pipe(Effect.ignore, Effect.forkIn(scope), Effect.asVoid)
      }

      /**
       * `length` bytes at `offset` of a committed chunk, from the first replica that answers.
       * A version that is gone was replaced and collected after this request read the metadata:
       * that is a Conflict, and the request re-plans from the current metadata. A replica whose
       * copy failed its checksums is repaired in the background once another one answered.
       */
      const readChunk = (chunk: ChunkRef, offset: number, length: number) => {
        const localFirst = [...chunk.nodes].sort((a, b) => Number(b === peers.selfId) - Number(a === peers.selfId))
        const damaged: Array<string> = []
        const attempts = localFirst.map((node) =>
          peers.forNode(node).pipe(
            Effect.flatMap((store) => store.read(chunk.versionId, offset, length)),
            Effect.tapErrorTag("Corruption", () => Effect.sync(() => damaged.push(node)))
          )
        )
        return attempts.length === 0
          ? Effect.fail(new Unavailable({ message: `chunk ${chunk.versionId} has no replicas` }))
          : Effect.firstSuccessOf(attempts).pipe(
            Effect.tap(() => (damaged.length === 0 ? Effect.void : repairInBackground(chunk, damaged))),
            Effect.catchTag("NotFound", () =>
              Effect.fail(new Conflict({ message: `chunk version ${chunk.versionId} was replaced while in use` })))
          )
      }

      /** `readChunk`, where fewer bytes than the committed length promises mean the replica is broken. */
      const readExactly = (chunk: ChunkRef, offset: number, length: number) =>
        Effect.flatMap(readChunk(chunk, offset, length), (bytes) =>
          bytes.length === length
            ? Effect.succeed(bytes)
            : Effect.fail(new Unavailable({ message: `chunk ${chunk.versionId} returned ${bytes.length} of ${length} bytes` })))

      /** The bytes of [offset, offset + length) that `plan` says the file holds, holes as zeros. */
      const fetch = (plan: ReadPlan, offset: number, length: number) => plannedBytes(plan, offset, length, readExactly, concurrency)

      /**
       * Run `attempt` again while it loses a race with another writer (or the collector), after a
       * jittered backoff that doubles each time, at most `maxRetries` times.
       */
      const retryConflicts = <A, E, R>(attempt: (n: number) => Effect.Effect<A, E | Conflict, R>) => {
        const loop = (n: number): Effect.Effect<A, E | Conflict, R> =>
          attempt(n).pipe(
            Effect.catchIf((e): e is Conflict => e instanceof Conflict && n < maxRetries, () =>
              Effect.zipRight(backoff(n), loop(n + 1)))
          )
        return loop(0)
      }

      const backoff = (n: number) =>
        Effect.flatMap(Random.nextRange(0.5, 1.5), (jitter) =>
          Effect.sleep(Duration.millis(Math.min(MAX_BACKOFF_MILLIS, BASE_BACKOFF_MILLIS * 2 ** n) * jitter)))

      /** The stretch of a write that falls in one planned chunk, in chunk coordinates. */
      const sliceFor = (planned: PlannedChunk, chunkSize: number, offset: number, data: Uint8Array) => {
        const chunkStart = planned.index * chunkSize
        const from = Math.max(offset, chunkStart) - chunkStart
        const to = Math.min(offset + data.length, chunkStart + chunkSize) - chunkStart
        return { from, slice: data.subarray(chunkStart + from - offset, chunkStart + to - offset) }
      }

      /** The new version's bytes: the old chunk's file bytes with the written slice laid over them. */
      const newContent = (current: ChunkRef | null, from: number, slice: Uint8Array) =>
        Effect.gen(function*() {
          const oldLength = current?.length ?? 0
          if (oldLength <= from + slice.length && from === 0) return slice
          const content = new Uint8Array(Math.max(oldLength, from + slice.length))
          if (current && oldLength > 0) content.set(yield* readChunk(current, 0, oldLength))
          content.set(slice, from)
          return content
        })

      /**
       * The targets with this node last: staging starts in this order, and the peers' requests
       * should be on the wire (rpcPeers sends them at once) before this node's own copy takes
       * the event loop for its synchronous part.
       */
      const localLast = (targets: PlannedChunk["targets"]) =>
        targets.every((node, i) => node.id !== peers.selfId || i === targets.length - 1)
          ? targets
          : [...targets.filter((node) => node.id !== peers.selfId), ...targets.filter((node) => node.id === peers.selfId)]

      const stageWhole = (planned: PlannedChunk, content: Uint8Array, checksum: number) =>
        Effect.asVoid(forEachParallel(
          localLast(planned.targets),
          (node) => peers.forNode(node).pipe(Effect.flatMap((store) => store.stage(planned.versionId, content, checksum)))
        ))

      /**
       * A write that leaves part of the old version travels as a patch: the replicas holding the
       * old version keep only the written bytes, and each answers the new version's checksum,
       * made from the old one and the bytes the write replaces (nothing else of the old version
       * is read, and nothing on this node before the patches go out). A target without the old
       * version, or one that refuses the patch (its copy is gone or differs), gets the version
       * whole. All must agree on the checksum.
       */
      const stagePatched = (planned: PlannedChunk, current: ChunkRef, from: number, slice: Uint8Array, sliceChecksum: number) =>
        Effect.gen(function*() {
          // A replica may refuse the patch because the written bytes do not match their checksum: they are checked before going whole.
          const whole = once(Effect.suspend(() =>
            crc32c(slice) !== sliceChecksum
              ? Effect.fail(new Corruption({ message: `the bytes written to chunk ${planned.index} do not match their checksum` }))
              : Effect.map(newContent(current, from, slice), (content) => ({ content, checksum: crc32c(content) }))
          ))
          const patch = { base: current.versionId, baseChecksum: current.checksum, offset: from, data: slice, checksum: sliceChecksum }
          const checksums = yield* forEachParallel(localLast(planned.targets), (node) =>
            Effect.gen(function*() {
              const store = yield* peers.forNode(node)
              const stageWholeHere = Effect.flatMap(whole, ({ checksum, content }) => Effect.as(store.stage(planned.versionId, content, checksum), checksum))
              if (!current.nodes.includes(node.id)) return yield* stageWholeHere
              return yield* store.stagePatch(planned.versionId, patch).pipe(
                Effect.catchTags({ NotFound: () => stageWholeHere, InvalidArgument: () => stageWholeHere, Corruption: () => stageWholeHere })
              )
            }))
          const checksum = checksums[0]!
          if (checksums.some((c) => c !== checksum)) {
            return yield* new Corruption({ message: `replicas of chunk version ${planned.versionId} disagree on its checksum (${checksums.join(", ")})` })
          }
          return { length: Math.max(current.length, from + slice.length), checksum }
        })

      /**
       * Stages every planned chunk. `checksum` is the client's crc32c of all of `data`: a slice
       * that is all of it (a write within one chunk) uses it, and the replicas check it.
       */
      const stage = (plan: WritePlan, data: Uint8Array, checksum: number | undefined) =>
        forEachParallel(plan.chunks, (planned) =>
          Effect.gen(function*() {
            const { from, slice } = sliceFor(planned, plan.chunkSize, plan.offset, data)
            const clientChecksum = slice.length === data.length ? checksum : undefined
            const current = planned.current
            // A patch needs an old version whose stored bytes are all part of the file (no truncate since).
            const patchable = current !== null && current.length > 0 && current.length === current.storedLength &&
              !(from === 0 && slice.length >= current.length)
            let staged: { readonly length: number; readonly checksum: number }
            if (patchable) staged = yield* stagePatched(planned, current, from, slice, clientChecksum ?? crc32c(slice))
            else {
              const content = yield* newContent(current, from, slice)
              // Merged with the old bytes, the replicas check the merge: the client's bytes are checked here.
              if (content !== slice && clientChecksum !== undefined && crc32c(slice) !== clientChecksum) {
                return yield* new Corruption({ message: `the bytes written to chunk ${planned.index} do not match the checksum the client sent` })
              }
              staged = { length: content.length, checksum: content === slice ? clientChecksum ?? crc32c(content) : crc32c(content) }
              yield* stageWhole(planned, content, staged.checksum)
            }
            const update: ChunkUpdate = {
              expectedVersionId: current?.versionId ?? null,
              expectedLength: current?.length ?? 0,
              chunk: {
                index: planned.index,
                versionId: planned.versionId,
                storedLength: staged.length,
                length: staged.length,
                checksum: staged.checksum,
                nodes: planned.targets.map((t) => t.id)
              }
            }
            return update
          }), concurrency)

      /** Staging failed part-way: drop whatever was staged (nothing references it). */
      const abandon = (plan: WritePlan) =>
        Effect.forEach(
          plan.chunks.flatMap((c) => c.targets.map((node) => ({ node, versionId: c.versionId }))),
          ({ node, versionId }) => peers.forNode(node).pipe(Effect.flatMap((s) => s.abort(versionId)), Effect.ignore),
          { concurrency: "unbounded", discard: true }
        )

      /**
       * One attempt at a write. Every attempt carries the client's request: if an earlier one
       * (or an earlier copy of the request) was carried out, planning finds its recorded outcome
       * and returns it, and a commit racing with it is answered with it at apply.
       */
      const attemptWrite = (
        inode: number,
        at: WriteOffset,
        data: Uint8Array,
        checksum: number | undefined,
        request: RequestTag | null,
        optimistic: boolean
      ) =>
        Effect.gen(function*() {
          const plan = yield* control.prepareWrite(inode, at, data.length, request, optimistic)
          if (plan._tag === "Recorded") {
            const outcome = plan.outcome
            if (outcome._tag === "Err") return yield* Effect.fail(outcome.error)
            if (outcome.result === null) return yield* Effect.dieMessage("a recorded write outcome holds no attributes")
            return outcome.result
          }
          if (plan.chunks.length === 0) return yield* control.getattr(inode)
          // Split over chunks (an O_APPEND write that met a moved end), no replica checks the
          // client's checksum of the whole: it is checked here, before anything is staged.
          if (checksum !== undefined && plan.chunks.length > 1 && crc32c(data) !== checksum) {
            return yield* new Corruption({ message: `the ${data.length} bytes written do not match the checksum the client sent` })
          }
          const updates = yield* stage(plan, data, checksum).pipe(Effect.tapError(() => abandon(plan)))
          return yield* coordinator.commit({
            txId: plan.txId,
            inode,
            end: plan.offset + data.length,
            updates,
            expectedSize: at === "end" ? plan.size : null,
            request
          })
        })

      return DataPlaneOrchestrator.of({
        // The first plan is optimistic; one that lost a race plans again from confirmed state.
        write: (inode, offset, data, request, checksum) =>
          retryConflicts((n) => attemptWrite(inode, offset, data, checksum, request, n === 0)),

        readVersion: (versionId, offset, length) =>
          Effect.flatMap(peers.forNode(peers.selfId), (store) => store.read(versionId, offset, length)).pipe(
            Effect.tapErrorTag("Corruption", () => repairOwnCopy(versionId))
          ),

        read: (inode, offset, length) =>
          retryConflicts(() => Effect.flatMap(control.prepareRead(inode, offset, length), (plan) => fetch(plan, offset, length))),

        readPath: (path, offset, length) =>
          retryConflicts(() =>
            Effect.flatMap(control.prepareReadPath(path, offset, length), (plan) =>
              Effect.map(fetch(plan, offset, length), (data) => ({ attributes: plan.attributes, data }))))
      })
    })
  )
