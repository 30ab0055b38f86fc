import { describe, expect, it } from "@effect/vitest"
import { Context, Effect, Layer, Schedule, type Scope } from "effect"
import type { RequestTag } from "../../src/domain/commands.ts"
import type { SessionId } from "../../src/domain/session.ts"
import { ReplicatedDataPlane } from "../../layers/orchestrators/replicatedDataPlane.ts"
import { ROOT_INODE } from "../../src/domain/fs.ts"
import { ChunkService } from "../../src/services/ChunkService.ts"
import { ControlPlaneOrchestrator, type WritePlan } from "../../src/services/ControlPlaneOrchestrator.ts"
import { DataPlaneOrchestrator } from "../../src/services/DataPlaneOrchestrator.ts"
import { MetadataService } from "../../src/services/MetadataService.ts"
import { ChunkCollector } from "../../layers/orchestrators/chunkCollector.ts"
import { ReplicatedControlPlane } from "../../layers/orchestrators/replicatedControlPlane.ts"
import { NotFound } from "../../src/domain/errors.ts"
import { ChunkPeers } from "../../src/services/ChunkPeers.ts"
import * as NodeFs from "node:fs"
import { join } from "node:path"
import { MetadataReplicator, type MetadataReplicatorShape } from "../../src/services/MetadataReplicator.ts"
import { StandaloneServices } from "../../topologies/standalone.ts"
import { patternBytes } from "../support/bytes.ts"
import { tempDir } from "../support/tempDir.ts"

const CHUNK = 64 * 1024


const nodeIn = (dir: string) => Layer.build(StandaloneServices({ nodeId: "n1", dataDir: dir, chunkSize: CHUNK }))
const node = Effect.flatMap(tempDir(), nodeIn)

type NodeServices = Layer.Layer.Success<ReturnType<typeof StandaloneServices>>

const withNode = <A, E>(body: Effect.Effect<A, E, NodeServices | Scope.Scope>) =>
  Effect.flatMap(node, (context) => Effect.provide(body, context))

const SESSION = "c".repeat(32) as SessionId
/** Request `seq` of SESSION, with everything before it acknowledged. */
const tag = (seq: number): RequestTag => ({ session: SESSION, seq, ackedBelow: seq, digest: 1000 + seq })

/**
 * Another data plane over the node's services, whose control plane runs `onPlan` on each write
 * plan (and whether it was made optimistically) before the data plane sees it: a test steps in
 * between planning and staging.
 */
const dataPlaneWithPlanHook = (onPlan: (plan: WritePlan, optimistic: boolean) => Effect.Effect<void, unknown>) =>
  Effect.gen(function*() {
    const context = yield* Effect.context<NodeServices>()
    const hooked = Layer.effect(
      ControlPlaneOrchestrator,
      Effect.map(ControlPlaneOrchestrator, (inner) =>
        ControlPlaneOrchestrator.of({
          ...inner,
          prepareWrite: (inode, at, length, request, optimistic) =>
            Effect.tap(inner.prepareWrite(inode, at, length, request, optimistic), (plan) =>
              plan._tag === "WritePlan" ? Effect.orDie(onPlan(plan, optimistic)) : Effect.void)
        }))
    )
    const built = yield* Layer.build(
      ReplicatedDataPlane().pipe(Layer.provide(hooked), Layer.provide(Layer.succeedContext(context)))
    )
    return Context.get(built, DataPlaneOrchestrator)
  })

const newFile = (name: string) =>
  Effect.flatMap(ControlPlaneOrchestrator, (control) =>
    control.create({ parent: ROOT_INODE, name, mode: 0o644, uid: 0, gid: 0, exclusive: true }, null))

describe("data plane on a standalone node", () => {
  it.scoped("writes spanning chunks read back at any offset and length", () =>
    withNode(Effect.gen(function*() {
      const data = yield* DataPlaneOrchestrator
      const file = yield* newFile("f")
      const content = patternBytes(3 * CHUNK + 123, 7)
      const attrs = yield* data.write(file.inode, 0, content, null)
      expect(attrs.size).toBe(content.length)
      expect(yield* data.read(file.inode, 0, content.length)).toEqual(content)
      for (const [offset, length] of [[1, 10], [CHUNK - 5, 10], [CHUNK * 2 - 1, CHUNK + 2], [3 * CHUNK, 1000]] as const) {
        const got = yield* data.read(file.inode, offset, length)
        expect(got).toEqual(content.subarray(offset, Math.min(offset + length, content.length)))
      }
      expect((yield* data.read(file.inode, content.length, 10)).length).toBe(0)
    })))

  it.scoped("a write past the end leaves a hole that reads as zeros", () =>
    withNode(Effect.gen(function*() {
      const data = yield* DataPlaneOrchestrator
      const file = yield* newFile("sparse")
      const tail = patternBytes(100, 3)
      const offset = 5 * CHUNK + 17
      const attrs = yield* data.write(file.inode, offset, tail, null)
      expect(attrs.size).toBe(offset + 100)
      const all = yield* data.read(file.inode, 0, offset + 100)
      expect(all.subarray(0, offset).every((b) => b === 0)).toBe(true)
      expect(all.subarray(offset)).toEqual(tail)
    })))

  it.scopedLive("overwrites make new versions, merge old bytes, and the collector removes the old ones", () =>
    withNode(Effect.gen(function*() {
      const data = yield* DataPlaneOrchestrator
      const metadata = yield* MetadataService
      const chunks = yield* ChunkService
      const file = yield* newFile("over")
      const base = patternBytes(2 * CHUNK, 11)
      yield* data.write(file.inode, 0, base, null)
      const before = yield* metadata.chunks(file.inode)
      const patch = patternBytes(50, 12)
      yield* data.write(file.inode, CHUNK - 25, patch, null)
      const expected = base.slice()
      expected.set(patch, CHUNK - 25)
      expect(yield* data.read(file.inode, 0, 2 * CHUNK)).toEqual(expected)
      const after = yield* metadata.chunks(file.inode)
      expect(after.map((c) => c.versionId)).not.toContain(before[0]!.versionId)
      const garbage = yield* metadata.garbage(10)
      expect(garbage.map((g) => g.versionId).sort()).toEqual(before.map((c) => c.versionId).sort())
      // one sweep of the collector deletes them from disk and forgets them
      yield* Layer.build(ChunkCollector({ interval: "1 hour" }))
      yield* Effect.repeat(metadata.garbage(10), { until: (g) => g.length === 0, schedule: Schedule.spaced("10 millis") })
      const stored = yield* chunks.list
      for (const old of before) expect([...stored.committed, ...stored.staged]).not.toContain(old.versionId)
      for (const cur of after) expect(stored.committed).toContain(cur.versionId)
    })))

  it.scopedLive("concurrent writers of different ranges of one file both land", () =>
    withNode(Effect.gen(function*() {
      const data = yield* DataPlaneOrchestrator
      const file = yield* newFile("shared")
      const a = patternBytes(CHUNK, 21)
      const b = patternBytes(CHUNK, 22)
      const c = patternBytes(100, 23)
      const d = patternBytes(100, 24)
      // a/b hit different chunks; c/d hit the same chunk at different offsets (a version race)
      yield* Effect.all([
        data.write(file.inode, 0, a, null),
        data.write(file.inode, 3 * CHUNK, b, null),
        data.write(file.inode, 5 * CHUNK, c, null),
        data.write(file.inode, 5 * CHUNK + 1000, d, null)
      ], { concurrency: "unbounded" })
      expect(yield* data.read(file.inode, 0, CHUNK)).toEqual(a)
      expect(yield* data.read(file.inode, 3 * CHUNK, CHUNK)).toEqual(b)
      expect(yield* data.read(file.inode, 5 * CHUNK, 100)).toEqual(c)
      expect(yield* data.read(file.inode, 5 * CHUNK + 1000, 100)).toEqual(d)
    })))

  it.scoped("truncate then extend reads zeros where bytes were cut", () =>
    withNode(Effect.gen(function*() {
      const data = yield* DataPlaneOrchestrator
      const control = yield* ControlPlaneOrchestrator
      const file = yield* newFile("trunc")
      const content = patternBytes(CHUNK + 500, 31)
      yield* data.write(file.inode, 0, content, null)
      yield* control.setattr(file.inode, { size: 100 }, null)
      yield* control.setattr(file.inode, { size: CHUNK + 500 }, null)
      const got = yield* data.read(file.inode, 0, CHUNK + 500)
      expect(got.subarray(0, 100)).toEqual(content.subarray(0, 100))
      expect(got.subarray(100).every((x) => x === 0)).toBe(true)
    })))

  it.scoped("a resent write applies once", () =>
    withNode(Effect.gen(function*() {
      const data = yield* DataPlaneOrchestrator
      const control = yield* ControlPlaneOrchestrator
      const file = yield* newFile("dedup")
      yield* control.openSession(SESSION, true)
      const first = yield* data.write(file.inode, 0, patternBytes(10, 1), tag(1))
      yield* data.write(file.inode, 0, patternBytes(10, 2), null)
      const resent = yield* data.write(file.inode, 0, patternBytes(10, 1), tag(1))
      expect(resent).toEqual(first)
      // the resend did not overwrite the later write
      expect(yield* data.read(file.inode, 0, 10)).toEqual(patternBytes(10, 2))
      expect((yield* control.getattr(file.inode)).size).toBe(10)
    })))

  it.scoped("a resent write whose file was removed since returns its first outcome", () =>
    withNode(Effect.gen(function*() {
      const data = yield* DataPlaneOrchestrator
      const control = yield* ControlPlaneOrchestrator
      const file = yield* newFile("gone")
      yield* control.openSession(SESSION, true)
      // The write commits but its reply is lost; the file is unlinked before the resend.
      const first = yield* data.write(file.inode, 0, patternBytes(10, 1), tag(1))
      yield* control.unlink(ROOT_INODE, "gone", null)
      expect(yield* data.write(file.inode, 0, patternBytes(10, 1), tag(1))).toEqual(first)
      // A write that never ran on the removed file is still refused.
      expect((yield* Effect.flip(data.write(file.inode, 0, patternBytes(10, 1), tag(2))))._tag).toBe("NotFound")
    })))

  it.scoped("a resent write on a session no longer open answers SessionExpired, not what planning says now", () =>
    withNode(Effect.gen(function*() {
      const data = yield* DataPlaneOrchestrator
      const control = yield* ControlPlaneOrchestrator
      const file = yield* newFile("late")
      yield* control.openSession(SESSION, true)
      yield* data.write(file.inode, 0, patternBytes(10, 1), tag(1))
      // The session ends (expired, here closed) and the file goes; then the write is resent.
      yield* control.closeSession(SESSION)
      yield* control.unlink(ROOT_INODE, "late", null)
      // NotFound would say the write never happened; whether it did can no longer be told.
      expect((yield* Effect.flip(data.write(file.inode, 0, patternBytes(10, 1), tag(1))))._tag).toBe("SessionExpired")
    })))

  it.scopedLive("a resent write whose first attempt lost its merge source to the collector still applies once", () =>
    withNode(Effect.gen(function*() {
      const data = yield* DataPlaneOrchestrator
      const control = yield* ControlPlaneOrchestrator
      const chunks = yield* ChunkService
      const file = yield* newFile("merged")
      yield* control.openSession(SESSION, true)
      yield* data.write(file.inode, 0, patternBytes(CHUNK, 1), null)
      // While the write of 4 KiB into chunk 0 plans its first attempt, another client commits a
      // new version of chunk 0 and the collector deletes the one the plan is merging into: the
      // attempt fails before proposing anything, and the next one commits.
      let interfere = true
      const planned = (plan: WritePlan) =>
        Effect.gen(function*() {
          if (!interfere) return
          interfere = false
          yield* data.write(file.inode, CHUNK / 2, patternBytes(100, 2), null)
          yield* chunks.remove([plan.chunks[0]!.current!.versionId])
        })
      const hooked = yield* dataPlaneWithPlanHook(planned)
      const first = yield* hooked.write(file.inode, 0, patternBytes(4096, 3), tag(1))
      // The reply was lost; a third client's acknowledged write covers the same bytes.
      yield* data.write(file.inode, 0, patternBytes(4096, 4), null)
      const resent = yield* hooked.write(file.inode, 0, patternBytes(4096, 3), tag(1))
      expect(resent).toEqual(first)
      // Applying the resend again would have put its bytes back over the third write.
      expect(yield* data.read(file.inode, 0, 4096)).toEqual(patternBytes(4096, 4))
    })))

  it.scopedLive("a first plan made without a ReadIndex that went stale costs a Conflict and a confirmed plan, not a wrong write", () =>
    withNode(Effect.gen(function*() {
      const data = yield* DataPlaneOrchestrator
      const file = yield* newFile("stale")
      yield* data.write(file.inode, 0, patternBytes(CHUNK, 1), null)
      // Between the first plan and its commit another writer replaces chunk 0: the plan names a
      // version that is no longer current, as a plan from a lagging state would.
      const optimistic: Array<boolean> = []
      let interfere = true
      const hooked = yield* dataPlaneWithPlanHook((_, isOptimistic) =>
        Effect.gen(function*() {
          optimistic.push(isOptimistic)
          if (!interfere) return
          interfere = false
          yield* data.write(file.inode, 100, patternBytes(10, 2), null)
        }))
      yield* hooked.write(file.inode, 0, patternBytes(50, 3), null)
      expect(optimistic).toEqual([true, false])
      // Both writes landed, each once, over the first one's bytes.
      const expected = patternBytes(CHUNK, 1)
      expected.set(patternBytes(10, 2), 100)
      expected.set(patternBytes(50, 3), 0)
      expect(yield* data.read(file.inode, 0, CHUNK)).toEqual(expected)
    })))

  it.scoped("a first plan that fails on this node's applied state is made again after a ReadIndex", () =>
    withNode(Effect.gen(function*() {
      const context = yield* Effect.context<NodeServices>()
      // A leader whose applied state does not have the file yet (it was created through the
      // log but not applied here): planning there finds no file.
      const lagging = Layer.effect(
        MetadataReplicator,
        Effect.map(MetadataReplicator, (inner) =>
          MetadataReplicator.of({
            ...inner,
            // What the read itself would fail with there (the read's own error type, hence the cast).
            leaderLocal: (() => Effect.fail(new NotFound({ message: "not applied here yet" }))) as MetadataReplicatorShape["leaderLocal"]
          }))
      )
      const control = ReplicatedControlPlane({ chunkSize: CHUNK, topologyName: "standalone" }).pipe(
        Layer.provide(lagging),
        Layer.provide(Layer.succeedContext(context))
      )
      const data = Context.get(
        yield* Layer.build(ReplicatedDataPlane().pipe(Layer.provide(control), Layer.provide(Layer.succeedContext(context)))),
        DataPlaneOrchestrator
      )
      const file = yield* newFile("lagging")
      const attributes = yield* data.write(file.inode, 0, patternBytes(10, 1), null)
      expect(attributes.size).toBe(10)
      expect(yield* data.read(file.inode, 0, 10)).toEqual(patternBytes(10, 1))
    })))

  it.scoped("reading or writing a directory is EISDIR", () =>
    withNode(Effect.gen(function*() {
      const data = yield* DataPlaneOrchestrator
      const error = yield* Effect.flip(data.read(ROOT_INODE, 0, 10))
      expect(error._tag).toBe("IsADirectory")
      expect((yield* Effect.flip(data.write(ROOT_INODE, 0, patternBytes(1, 1), null)))._tag).toBe("IsADirectory")
    })))

  it.scoped("a small overwrite is stored as a patch of the old version, and reads back merged", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir()
      yield* Effect.provide(Effect.gen(function*() {
        const data = yield* DataPlaneOrchestrator
        const file = yield* newFile("patched")
        let content = patternBytes(2 * CHUNK, 5)
        yield* data.write(file.inode, 0, content, null)
        for (const [n, offset] of [100, CHUNK - 2, 2 * CHUNK - 1, 2 * CHUNK + 10].entries()) {
          const written = patternBytes(4, 60 + n)
          yield* data.write(file.inode, offset, written, null)
          const expected = new Uint8Array(Math.max(content.length, offset + 4))
          expected.set(content.subarray(0, Math.min(content.length, expected.length)))
          expected.set(written, offset)
          expect(yield* data.read(file.inode, 0, expected.length)).toEqual(expected)
          content = expected
        }
        const files = ["staged", "committed"].flatMap((place) => NodeFs.readdirSync(join(dir, "chunks", place)))
        // Four writes, five patches (one spans two chunks), each a few dozen bytes of file.
        const patches = files.filter((name) => name.endsWith(".patch"))
        expect(patches.length).toBe(5)
        for (const place of ["staged", "committed"]) {
          for (const name of NodeFs.readdirSync(join(dir, "chunks", place)).filter((n) => n.endsWith(".patch"))) {
            expect(NodeFs.statSync(join(dir, "chunks", place, name)).size).toBeLessThan(200)
          }
        }
      }), yield* nodeIn(dir))
    }))

  it.scoped("a replica that refuses a patch gets the version whole, and the write succeeds", () =>
    withNode(Effect.gen(function*() {
      const context = yield* Effect.context<NodeServices>()
      const refusing = Layer.effect(
        ChunkPeers,
        Effect.map(ChunkPeers, (peers) =>
          ChunkPeers.of({
            ...peers,
            forNode: (node) =>
              Effect.map(peers.forNode(node), (store) => ({
                ...store,
                stagePatch: () => Effect.fail(new NotFound({ message: "base gone" }))
              }))
          }))
      )
      const data = Context.get(
        yield* Layer.build(ReplicatedDataPlane().pipe(Layer.provide(refusing), Layer.provide(Layer.succeedContext(context)))),
        DataPlaneOrchestrator
      )
      const file = yield* newFile("refused")
      const content = patternBytes(CHUNK + 10, 8).slice()
      yield* data.write(file.inode, 0, content, null)
      yield* data.write(file.inode, 50, patternBytes(3, 9), null)
      content.set(patternBytes(3, 9), 50)
      expect(yield* data.read(file.inode, 0, content.length)).toEqual(content)
    })))
})
