/**
 * The replicated data plane. A write copies each touched chunk into a new immutable version
 * (merging the old bytes where the write covers only part of it), stages that version on
 * every placement target in parallel, and hands the set to the TransactionCoordinator; a
 * Conflict (another writer committed one of those chunks first) re-plans and retries. A read
 * takes the chunks overlapping the range from the control plane, fetches each from the first
 * replica that answers with verified bytes, and leaves holes as zeros.
 */
import { Effect, Layer } from "effect"
import type { ChunkUpdate } from "../../src/domain/commands.ts"
import { Conflict, Unavailable } from "../../src/domain/errors.ts"
import type { ChunkRef } from "../../src/domain/fs.ts"
import { crc32c } from "../../src/lib/crc32c.ts"
import { ChunkPeers } from "../../src/services/ChunkPeers.ts"
import {
  ControlPlaneOrchestrator, type PlannedChunk, type WriteOffset, type WritePlan
} from "../../src/services/ControlPlaneOrchestrator.ts"
import { DataPlaneOrchestrator } from "../../src/services/DataPlaneOrchestrator.ts"
import { TransactionCoordinator } from "../../src/services/TransactionCoordinator.ts"

export interface DataPlaneOptions {
  /** How many times a write re-plans after losing a version race before giving up with Conflict. */
  readonly maxConflictRetries?: number
  /** Chunks fetched or staged at once by one request. */
  readonly concurrency?: number
}

export const ReplicatedDataPlane = (options: DataPlaneOptions = {}) =>
  Layer.effect(
    DataPlaneOrchestrator,
    Effect.gen(function*() {
      const control = yield* ControlPlaneOrchestrator
      const coordinator = yield* TransactionCoordinator
      const peers = yield* ChunkPeers
      const maxRetries = options.maxConflictRetries ?? 16
      const concurrency = options.concurrency ?? 4

      /**
       * `length` bytes at `offset` of a committed chunk, from the first replica that answers.
       * A version that is gone was replaced and collected after this request read the metadata:
       * that is a Conflict, and the request re-plans from the current metadata.
       */
      const readChunk = (chunk: ChunkRef, offset: number, length: number) => {
        const localFirst = [...chunk.nodes].sort((a, b) => Number(b === peers.selfId) - Number(a === peers.selfId))
        const attempts = localFirst.map((node) =>
          peers.forNode(node).pipe(Effect.flatMap((store) => store.read(chunk.versionId, offset, length)))
        )
        return attempts.length === 0
          ? Effect.fail(new Unavailable({ message: `chunk ${chunk.versionId} has no replicas` }))
          : Effect.firstSuccessOf(attempts).pipe(
            Effect.catchTag("NotFound", () =>
              Effect.fail(new Conflict({ message: `chunk version ${chunk.versionId} was replaced while in use` })))
          )
      }

      /** Run `attempt` again while it loses a race with another writer (or the collector). */
      const retryConflicts = <A, E, R>(attempt: (n: number) => Effect.Effect<A, E | Conflict, R>) => {
        const loop = (n: number): Effect.Effect<A, E | Conflict, R> =>
          attempt(n).pipe(
            Effect.catchIf((e): e is Conflict => e instanceof Conflict && n < maxRetries, () => loop(n + 1))
          )
        return loop(0)
      }

      /** The new version's bytes: the old chunk's file bytes with the written slice laid over them. */
      const newContent = (planned: PlannedChunk, chunkSize: number, offset: number, data: Uint8Array) =>
        Effect.gen(function*() {
          const chunkStart = planned.index * chunkSize
          const from = Math.max(offset, chunkStart) - chunkStart
          const to = Math.min(offset + data.length, chunkStart + chunkSize) - chunkStart
          const slice = data.subarray(chunkStart + from - offset, chunkStart + to - offset)
          const current = planned.current
          const oldLength = current?.length ?? 0
          if (oldLength <= to && from === 0) return slice
          const content = new Uint8Array(Math.max(oldLength, to))
          if (current && oldLength > 0) content.set(yield* readChunk(current, 0, oldLength))
          content.set(slice, from)
          return content
        })

      const stage = (plan: WritePlan, data: Uint8Array) =>
        Effect.forEach(plan.chunks, (planned) =>
          Effect.gen(function*() {
            const content = yield* newContent(planned, plan.chunkSize, plan.offset, data)
            const checksum = crc32c(content)
            yield* Effect.forEach(
              planned.targets,
              (node) => peers.forNode(node).pipe(Effect.flatMap((store) => store.stage(planned.versionId, content, checksum))),
              { concurrency: "unbounded", discard: true }
            )
            const update: ChunkUpdate = {
              expectedVersionId: planned.current?.versionId ?? null,
              expectedLength: planned.current?.length ?? 0,
              chunk: {
                index: planned.index,
                versionId: planned.versionId,
                storedLength: content.length,
                length: content.length,
                checksum,
                nodes: planned.targets.map((t) => t.id)
              }
            }
            return update
          }), { concurrency })

      /** Staging failed part-way: drop whatever was staged (nothing references it). */
      const abandon = (plan: WritePlan) =>
        Effect.forEach(
          plan.chunks.flatMap((c) => c.targets.map((node) => ({ node, versionId: c.versionId }))),
          ({ node, versionId }) => peers.forNode(node).pipe(Effect.flatMap((s) => s.abort(versionId)), Effect.ignore),
          { concurrency: "unbounded", discard: true }
        )

      const attemptWrite = (inode: number, at: WriteOffset, data: Uint8Array, requestId: string | null, attempt: number) =>
        Effect.gen(function*() {
          // each attempt is its own deduplicated request: a retried write replays the same attempts
          const attemptId = requestId === null ? null : `${requestId}#${attempt}`
          const prepared = yield* Effect.either(control.prepareWrite(inode, at, data.length))
          if (prepared._tag === "Left") {
            const error = prepared.left
            if (attemptId === null || (error._tag !== "NotFound" && error._tag !== "IsADirectory")) return yield* error
            // The file is gone, but this may be a retry of an attempt that committed before its reply
            // was lost: only the log knows. An empty commit under the attempt's id returns the outcome
            // recorded for it, or records the same refusal (inodes are never reused or change type).
            return yield* coordinator.commit({
              txId: `${inode.toString(36)}-replay`, inode, end: 0, updates: [], expectedSize: null, requestId: attemptId
            })
          }
          const plan = prepared.right
          if (plan.chunks.length === 0) return yield* control.getattr(inode)
          const updates = yield* stage(plan, data).pipe(Effect.tapError(() => abandon(plan)))
          return yield* coordinator.commit({
            txId: plan.txId,
            inode,
            end: plan.offset + data.length,
            updates,
            expectedSize: at === "end" ? plan.size : null,
            requestId: attemptId
          })
        })

      return DataPlaneOrchestrator.of({
        write: (inode, offset, data, requestId) =>
          retryConflicts((attempt) => attemptWrite(inode, offset, data, requestId, attempt)),

        read: (inode, offset, length) =>
          retryConflicts(() => Effect.gen(function*() {
            const plan = yield* control.prepareRead(inode, offset, length)
            const end = Math.min(offset + length, plan.attributes.size)
            if (end <= offset) return new Uint8Array(0)
            const out = new Uint8Array(end - offset)
            yield* Effect.forEach(plan.chunks, (chunk) => {
              const chunkStart = chunk.index * plan.chunkSize
              const from = Math.max(offset, chunkStart)
              const to = Math.min(end, chunkStart + chunk.length)
              if (to <= from) return Effect.void
              return readChunk(chunk, from - chunkStart, to - from).pipe(
                Effect.flatMap((bytes) =>
                  bytes.length === to - from
                    ? Effect.sync(() => out.set(bytes, from - offset))
                    : Effect.fail(new Unavailable({ message: `chunk ${chunk.versionId} returned ${bytes.length} of ${to - from} bytes` }))
                )
              )
            }, { concurrency, discard: true })
            return out
          }))
      })
    })
  )
