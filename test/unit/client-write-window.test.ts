/**
 * A file handle's window of Writes in flight, against a real in-process node (1 MiB chunks)
 * whose Write replies the test holds back: several pieces travel at once, never two of one
 * chunk, O_APPEND pieces one at a time, and a piece whose outcome is unknown is reported by the
 * next call and resent under its first request by the call after.
 */
import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Either, Fiber } from "effect"
import type { FileHandle } from "../../src/client/FileHandle.ts"
import type { OpenFlagString } from "../../src/client/OpenFlags.ts"
import type { ClientSettings } from "../../src/client/SandstoreClient.ts"
import { IoError, NotFound, type SandstoreError, SessionExpired } from "../../src/domain/errors.ts"
import { faultyClientOf, type Intercept } from "../support/client-faulty-router.ts"
import { clientOf, firstDifference, MiB, patternBytes, standaloneNode } from "../support/client-node.ts"

const fastRetry: ClientSettings = { retry: { retries: 4, baseDelay: "5 millis", maxDelay: "20 millis", attemptTimeout: "30 seconds" } }

interface HeldWrite {
  readonly offset: number
  readonly request: unknown
  readonly release: Deferred.Deferred<void>
}

/** Holds every Write until the test releases it; `seen` lists them in the order they were sent. */
const holdingWrites = () =>
  Effect.gen(function*() {
    const seen: Array<HeldWrite> = []
    let inFlight = 0
    let mostInFlight = 0
    const intercept: Intercept = (rpc, payload, proceed) => {
      if (rpc !== "Write") return proceed
      return Effect.gen(function*() {
        const release = yield* Deferred.make<void>()
        seen.push({ offset: payload.offset as number, request: payload.request, release })
        inFlight++
        mostInFlight = Math.max(mostInFlight, inFlight)
        yield* Deferred.await(release)
        return yield* proceed
      }).pipe(Effect.ensuring(Effect.sync(() => inFlight--)))
    }
    /** Waits (yielding, no clock) until `n` Writes have been sent. */
    const untilSeen = (n: number) =>
      Effect.gen(function*() {
        while (seen.length < n) yield* Effect.sleep("1 millis")
      })
    const releaseAll = Effect.forEach(seen, (held) => Deferred.succeed(held.release, undefined), { discard: true })
    return { seen, intercept, untilSeen, releaseAll, mostInFlight: () => mostInFlight }
  })

/** A file opened with `flags` on a client of a fresh node whose Writes `held` holds back. */
const heldHandle = (path: string, flags: OpenFlagString, settings: ClientSettings = fastRetry) =>
  Effect.gen(function*() {
    const address = yield* standaloneNode()
    const held = yield* holdingWrites()
    const fs = yield* faultyClientOf([address], held.intercept, settings)
    const handle = yield* fs.open(path, flags)
    return { held, fs, handle }
  })

/** `handle.sync`, with every held Write (and any sent meanwhile) released. */
const syncReleasing = (handle: FileHandle, held: { readonly releaseAll: Effect.Effect<void> }) =>
  Effect.gen(function*() {
    const synced = yield* Effect.fork(handle.sync)
    yield* held.releaseAll
    yield* Fiber.join(synced)
  })

describe("a file handle's window of Writes in flight", () => {
  it.scopedLive("a write returns with its pieces in flight, a piece of a busy chunk waits its turn, and sync waits for all", () =>
    Effect.gen(function*() {
      const { held, fs, handle } = yield* heldHandle("/window.bin", "w")
      const data = patternBytes(6 * MiB, 1)
      // Six pieces, one per chunk, all sent before any is answered.
      expect(yield* handle.write(data)).toBe(6 * MiB)
      yield* held.untilSeen(6)
      expect(held.seen.map((w) => w.offset)).toEqual([0, 1, 2, 3, 4, 5].map((i) => i * MiB))

      // New bytes for chunks 0 and 1 (too many to buffer) wait for the pieces of those chunks in flight: they must land after them.
      const again = patternBytes(2 * MiB, 2)
      const rewrite = yield* Effect.fork(handle.write(again, 0))
      for (let i = 0; i < 20; i++) yield* Effect.yieldNow()
      expect(held.seen.length).toBe(6)
      yield* Deferred.succeed(held.seen[0]!.release, undefined)
      yield* held.untilSeen(7)
      expect(held.seen[6]!.offset).toBe(0)
      for (let i = 0; i < 20; i++) yield* Effect.yieldNow()
      expect(held.seen.length).toBe(7)
      yield* Deferred.succeed(held.seen[1]!.release, undefined)
      yield* held.untilSeen(8)
      expect(held.seen[7]!.offset).toBe(MiB)
      yield* Fiber.join(rewrite)

      yield* syncReleasing(handle, held)
      expect(held.mostInFlight()).toBe(6)
      const expected = new Uint8Array(data)
      expected.set(again, 0)
      expect(firstDifference(yield* fs.readFile("/window.bin"), expected)).toBe(-1)
      yield* handle.close
    }))

  it.scopedLive("pieces in flight keep the bytes written: the caller may reuse its buffer once write returns", () =>
    Effect.gen(function*() {
      const { held, fs, handle } = yield* heldHandle("/reused.bin", "w")
      const data = patternBytes(3 * MiB, 4)
      const written = new Uint8Array(data)
      expect(yield* handle.write(written)).toBe(3 * MiB)
      yield* held.untilSeen(3)
      // Every piece is still unanswered: the caller's buffer now holds other bytes.
      written.fill(0xee)
      yield* syncReleasing(handle, held)
      expect(firstDifference(yield* fs.readFile("/reused.bin"), data)).toBe(-1)
      yield* handle.close
    }))

  it.scopedLive("the window bounds the bytes in flight: a write waits for room (writeWindowBytes)", () =>
    Effect.gen(function*() {
      const { held, fs, handle } = yield* heldHandle("/bounded.bin", "w", { ...fastRetry, writeWindowBytes: 2 * MiB })
      const data = patternBytes(4 * MiB, 6)
      const writing = yield* Effect.fork(handle.write(data))
      yield* held.untilSeen(2)
      for (let i = 0; i < 20; i++) yield* Effect.yieldNow()
      expect(held.seen.length).toBe(2)
      yield* Deferred.succeed(held.seen[0]!.release, undefined)
      yield* held.untilSeen(3)
      yield* Deferred.succeed(held.seen[1]!.release, undefined)
      yield* held.untilSeen(4)
      yield* Fiber.join(writing)
      yield* syncReleasing(handle, held)
      expect(held.mostInFlight()).toBe(2)
      expect(firstDifference(yield* fs.readFile("/bounded.bin"), data)).toBe(-1)
      yield* handle.close
    }))

  it.scopedLive("O_APPEND pieces go one at a time, in the order written", () =>
    Effect.gen(function*() {
      const { held, fs, handle } = yield* heldHandle("/log.bin", "a")
      const data = patternBytes(3 * MiB, 3)
      const writing = yield* Effect.fork(Effect.zipRight(handle.write(data), handle.sync))
      for (let n = 1; n <= 3; n++) {
        yield* held.untilSeen(n)
        for (let i = 0; i < 20; i++) yield* Effect.yieldNow()
        expect(held.seen.length).toBe(n)
        yield* Deferred.succeed(held.seen[n - 1]!.release, undefined)
      }
      yield* Fiber.join(writing)
      expect(held.mostInFlight()).toBe(1)
      expect(firstDifference(yield* fs.readFile("/log.bin"), data)).toBe(-1)
      yield* handle.close
    }))

  it.scopedLive("a refused piece is kept and resent by the next call; one lost with its session is reported even after an unknown one", () =>
    Effect.gen(function*() {
      const address = yield* standaloneNode()
      const held = yield* holdingWrites()
      // Per offset: how the next Write there fails (then it is let through).
      const failures = new Map<number, () => SandstoreError>()
      const intercept: Intercept = (rpc, payload, proceed) => {
        const fail = failures.get(payload.offset as number)
        if (rpc !== "Write" || fail === undefined) return held.intercept(rpc, payload, proceed)
        failures.delete(payload.offset as number)
        return held.intercept(rpc, payload, Effect.fail(fail()))
      }
      const fs = yield* faultyClientOf([address], intercept, fastRetry)
      const handle = yield* fs.open("/dropped.bin", "w")

      // Refused (the file is gone, say): reported, and kept for the next call, which resends it.
      failures.set(0, () => new NotFound({ message: "no such file" }))
      yield* handle.write(patternBytes(MiB, 7), 0)
      const syncing = yield* Effect.fork(Effect.either(handle.sync))
      yield* held.untilSeen(1)
      yield* held.releaseAll
      const refused = yield* Fiber.join(syncing)
      expect(Either.isLeft(refused) && refused.left._tag).toBe("NotFound")
      const again = yield* Effect.fork(handle.sync)
      yield* held.untilSeen(2)
      yield* held.releaseAll
      yield* Fiber.join(again)
      expect(held.seen[1]!.offset).toBe(0)

      // An unknown outcome (kept to resend) first, then a piece lost with its session: both are
      // reported, the loss first; the call after them resends the kept one.
      failures.set(MiB, () => new IoError({ message: "reply lost" }))
      failures.set(2 * MiB, () => new SessionExpired({ message: "session expired" }))
      yield* handle.write(patternBytes(2 * MiB, 8), MiB)
      yield* held.untilSeen(4)
      yield* Deferred.succeed(held.seen[2]!.release, undefined)
      for (let i = 0; i < 20; i++) yield* Effect.yieldNow()
      yield* Deferred.succeed(held.seen[3]!.release, undefined)
      const first = yield* Effect.either(handle.sync)
      expect(Either.isLeft(first) && first.left._tag).toBe("SessionExpired")
      const second = yield* Effect.either(handle.sync)
      expect(Either.isLeft(second) && second.left._tag).toBe("IoError")
      const resent = yield* Effect.fork(handle.sync)
      yield* held.untilSeen(5)
      yield* held.releaseAll
      yield* Fiber.join(resent)
      expect(held.seen[4]!.offset).toBe(MiB)
      const bytes = yield* fs.readFile("/dropped.bin")
      expect(firstDifference(bytes.subarray(MiB, 2 * MiB), patternBytes(2 * MiB, 8).subarray(0, MiB))).toBe(-1)
      yield* handle.close
    }))

  it.scopedLive("a piece whose reply was lost fails the next call, and the call after resends it under its request, applied once", () =>
    Effect.gen(function*() {
      const address = yield* standaloneNode()
      const writes: Array<{ readonly offset: number; readonly request: unknown }> = []
      const loseReplyAt = new Set([MiB])
      const intercept: Intercept = (rpc, payload, proceed) => {
        if (rpc !== "Write") return proceed
        const offset = payload.offset as number
        writes.push({ offset, request: payload.request })
        if (!loseReplyAt.delete(offset)) return proceed
        // The node applies the piece; the client hears a failure it does not retry by itself.
        return Effect.zipRight(proceed, Effect.fail(new IoError({ message: "reply lost" })))
      }
      const fs = yield* faultyClientOf([address], intercept, fastRetry)
      const other = yield* clientOf([address])
      const handle = yield* fs.open("/once.bin", "w")
      yield* handle.write(patternBytes(3 * MiB, 4))
      // The sync meets the lost reply of the second piece and reports it.
      const failed = yield* Effect.either(handle.sync)
      expect(Either.isLeft(failed) && failed.left.code).toBe("EIO")
      // Another client writes that chunk after the lost-reply piece took effect.
      const theirs = patternBytes(MiB, 5)
      const otherHandle = yield* other.open("/once.bin", "r+")
      yield* otherHandle.write(theirs, MiB)
      yield* otherHandle.close
      // The resend carries the first request: the node answers it without applying it again.
      yield* handle.sync
      const sentAtOneMiB = writes.filter((w) => w.offset === MiB)
      expect(sentAtOneMiB.length).toBe(2)
      const [first, resent] = sentAtOneMiB.map((w) => w.request as { session: string; seq: number })
      expect([resent!.session, resent!.seq]).toEqual([first!.session, first!.seq])
      const read = yield* fs.readFile("/once.bin")
      expect(firstDifference(read.subarray(MiB, 2 * MiB), theirs)).toBe(-1)
      expect(firstDifference(read.subarray(0, MiB), patternBytes(3 * MiB, 4).subarray(0, MiB))).toBe(-1)
      yield* handle.close
    }))
})
