/**
 * Read-ahead for one file handle: pieces being fetched ahead of a sequential reader, in file
 * order, each the size of the read that started it. A read that finds its piece here still plans
 * afresh (so it is as linearizable as any read), and takes the early bytes only if that plan
 * names the same versions and size (versions are immutable); otherwise it fetches them again.
 * The fetches run in the client's scope, so a caller that stops waiting does not cut them short.
 */
import { Effect, Exit, Fiber, type Scope } from "effect"
import type { SandstoreError } from "../domain/errors.ts"
import type { InodeId } from "../domain/fs.ts"
import { type PlannedBytes, type ReplicaReads, samePlan } from "./ReplicaReads.ts"

export interface ReadAhead {
  /** `length` bytes at `offset` with the plan they came by: from a piece read ahead if it matches, else fetched now. */
  readonly read: (offset: number, length: number) => Effect.Effect<PlannedBytes, SandstoreError>
  /** After a full piece at [offset, offset + length) of a file of `size` bytes: keep `pieces` more on their way. */
  readonly extend: (offset: number, length: number, size: number) => Effect.Effect<void>
  /** Stops and forgets every piece on its way (the reader jumped, or the handle closes). */
  readonly drop: Effect.Effect<void>
}

export const makeReadAhead = (options: {
  readonly inode: InodeId
  readonly replicaReads: ReplicaReads
  readonly scope: Scope.Scope
  /** Pieces kept on their way. */
  readonly pieces: number
}): ReadAhead => {
  const { inode, replicaReads } = options
  let ahead: Array<{ readonly offset: number; readonly length: number; readonly fiber: Fiber.RuntimeFiber<PlannedBytes, SandstoreError> }> = []

  const drop = Effect.suspend(() => {
    const dropped = ahead
    ahead = []
    return Effect.forEach(dropped, (piece) => Fiber.interruptFork(piece.fiber), { discard: true })
  })

  const extend = (offset: number, length: number, size: number) =>
    Effect.gen(function*() {
      let at = ahead.length === 0 ? offset + length : ahead[ahead.length - 1]!.offset + length
      while (ahead.length < options.pieces && at < size) {
        const from = at
        const fiber = yield* Effect.forkIn(
          Effect.flatMap(replicaReads.plan(inode, from, length), (plan) =>
            Effect.map(replicaReads.fetch(plan, from, length), (data) => ({ plan, data }))),
          options.scope
        )
        ahead.push({ offset: from, length, fiber })
        at += length
      }
    })

  const read = (offset: number, length: number) =>
    Effect.gen(function*() {
      const early = ahead[0]
      if (early === undefined || early.offset !== offset || early.length !== length) {
        yield* drop
        return yield* replicaReads.read(inode, offset, length)
      }
      ahead.shift()
      const plan = yield* replicaReads.plan(inode, offset, length)
      const fetched = yield* Fiber.await(early.fiber)
      if (Exit.isSuccess(fetched) && samePlan(plan, fetched.value.plan)) return { plan, data: fetched.value.data }
      // Changed since (or the early fetch failed): these bytes, now.
      return yield* replicaReads.fetch(plan, offset, length).pipe(
        Effect.map((data) => ({ plan, data })),
        Effect.catchTag("Conflict", () => replicaReads.read(inode, offset, length))
      )
    })

  return { read, extend, drop }
}
