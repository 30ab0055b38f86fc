/**
 * Client sessions in the metadata state machine (layers/metadata/sessions.ts), rule by rule:
 * a request applies at most once, a reused id is refused, what the client acknowledged is
 * dropped and refused afterwards, a session expires by the state machine's clock and then
 * nothing of it applies, expired sessions are pruned, and a Conflict is no answer.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import type { CommandOutcome, MetadataCommand, RequestTag } from "../../src/domain/commands.ts"
import { ROOT_INODE } from "../../src/domain/fs.ts"
import type { SessionId } from "../../src/domain/session.ts"
import { makeNamespace } from "../../layers/metadata/namespace.ts"
import { makeTreeStore } from "../../layers/metadata/treeStore.ts"
import { snapshotBytes } from "../support/snapshotBytes.ts"

const CHUNK = 64
const T = 1_700_000_000_000
const TIMEOUT = 10_000
const A = "a1".repeat(16) as SessionId
const B = "b2".repeat(16) as SessionId

const create = (name: string, now = T): MetadataCommand =>
  ({ _tag: "Create", parent: ROOT_INODE, name, mode: 0o644, uid: 1, gid: 1, exclusive: true, now })
const open = (session: SessionId, now = T, create = true): MetadataCommand => ({ _tag: "OpenSession", session, create, now })
const keepAlive = (session: SessionId, now: number): MetadataCommand => open(session, now, false)

const machine = Effect.gen(function*() {
  const md = yield* makeNamespace(makeTreeStore(), { chunkSize: CHUNK, sessionTimeoutMillis: TIMEOUT, sessionPruneInterval: 4 })
  let index = 0
  const run = (command: MetadataCommand, request: RequestTag | null = null) => md.apply(++index, { request, command })
  const names = Effect.map(md.readdir(ROOT_INODE, null, 100), (page) => page.entries.map((e) => e.name))
  const bytes = Effect.map(snapshotBytes(md), (s) => Buffer.from(s.data))
  return { md, run, names, bytes }
})

const errorOf = (outcome: CommandOutcome) => (outcome._tag === "Err" ? outcome.error._tag : "Ok")

const tag = (session: SessionId, seq: number, digest: number, ackedBelow = seq): RequestTag => ({ session, seq, ackedBelow, digest })

describe("client sessions in the state machine", () => {
  it.effect("a request on a session that was never opened is refused and not applied", () =>
    Effect.gen(function*() {
      const { names, run } = yield* machine
      expect(errorOf(yield* run(create("x"), tag(A, 1, 1)))).toBe("SessionExpired")
      expect(yield* names).toEqual([])
    }))

  it.effect("a resent request gets its first outcome, even after the state moved on", () =>
    Effect.gen(function*() {
      const { names, run } = yield* machine
      yield* run(open(A))
      const first = yield* run(create("x"), tag(A, 1, 7))
      expect(first._tag).toBe("Ok")
      yield* run({ _tag: "Unlink", parent: ROOT_INODE, name: "x", now: T })
      // Applied again, the exclusive create would make x anew (or fail EEXIST had it stayed).
      expect(yield* run(create("x"), tag(A, 1, 7))).toEqual(first)
      expect(yield* names).toEqual([])
      // A failed outcome is an answer too.
      const failed = yield* run({ _tag: "Rmdir", parent: ROOT_INODE, name: "nope", now: T }, tag(A, 2, 8))
      expect(errorOf(failed)).toBe("NotFound")
      yield* run({ _tag: "Mkdir", parent: ROOT_INODE, name: "nope", mode: 0o755, uid: 1, gid: 1, now: T })
      expect(yield* run({ _tag: "Rmdir", parent: ROOT_INODE, name: "nope", now: T }, tag(A, 2, 8))).toEqual(failed)
      expect(yield* names).toEqual(["nope"])
    }))

  it.effect("an id that already named another request is refused, in another session it is another request", () =>
    Effect.gen(function*() {
      const { names, run } = yield* machine
      yield* run(open(A))
      yield* run(open(B))
      yield* run(create("x"), tag(A, 1, 7))
      expect(errorOf(yield* run(create("y"), tag(A, 1, 9)))).toBe("RequestIdReused")
      expect(yield* names).toEqual(["x"])
      expect((yield* run(create("y"), tag(B, 1, 9)))._tag).toBe("Ok")
      expect(yield* names).toEqual(["x", "y"])
    }))

  it.effect("what the client acknowledged is dropped, and a late copy of it is refused, not applied", () =>
    Effect.gen(function*() {
      const { bytes, names, run } = yield* machine
      yield* run(open(A))
      yield* run(create("x"), tag(A, 1, 1, 1))
      yield* run(create("y"), tag(A, 2, 2, 1))
      const withReplies = (yield* bytes).length
      // Request 3 says 1 and 2 were answered: their recorded outcomes go.
      yield* run({ _tag: "Unlink", parent: ROOT_INODE, name: "x", now: T }, tag(A, 3, 3, 3))
      expect((yield* bytes).length).toBeLessThan(withReplies)
      // A late duplicate of request 1 must not create x again.
      expect(errorOf(yield* run(create("x"), tag(A, 1, 1, 1)))).toBe("RequestIdReused")
      expect(yield* names).toEqual(["y"])
      // A client cannot acknowledge the request it is making: 4 saying "below 9" keeps 4's answer.
      const fourth = yield* run(create("z"), tag(A, 4, 4, 9))
      expect(yield* run(create("z"), tag(A, 4, 4, 9))).toEqual(fourth)
    }))

  it.effect("an unused session expires by the state machine's clock; nothing of it applies after, and it cannot reopen", () =>
    Effect.gen(function*() {
      const { names, run } = yield* machine
      yield* run(open(A))
      yield* run(open(B))
      yield* run(create("a1", T + 1000), tag(A, 1, 1))
      // The state's clock moves on through B's keep-alives; A is unused for longer than the timeout.
      yield* run(keepAlive(B, T + TIMEOUT / 2))
      yield* run(keepAlive(B, T + TIMEOUT + 2000))
      // A's next request and a resend of its last one are both refused.
      expect(errorOf(yield* run(create("a2", T + TIMEOUT + 2000), tag(A, 2, 2)))).toBe("SessionExpired")
      expect(errorOf(yield* run(create("a1", T + TIMEOUT + 2000), tag(A, 1, 1)))).toBe("SessionExpired")
      expect(errorOf(yield* run(keepAlive(A, T + TIMEOUT + 2000)))).toBe("SessionExpired")
      expect(yield* names).toEqual(["a1"])
    }))

  it.effect("a session kept alive within the timeout stays open", () =>
    Effect.gen(function*() {
      const { names, run } = yield* machine
      yield* run(open(A))
      for (let t = 1; t <= 5; t++) yield* run(keepAlive(A, T + t * (TIMEOUT / 2)))
      expect((yield* run(create("late", T + 3 * TIMEOUT), tag(A, 1, 1)))._tag).toBe("Ok")
      expect(yield* names).toEqual(["late"])
    }))

  it.effect("expired sessions are pruned: their rows go", () =>
    Effect.gen(function*() {
      const { bytes, run } = yield* machine
      const empty = (yield* bytes).length
      yield* run(open(A))
      for (let seq = 1; seq <= 3; seq++) yield* run(create(`f${seq}`), tag(A, seq, seq, 1))
      const withSession = yield* bytes
      // Clock past the timeout, up to a pruning index (every 4th entry here).
      for (let i = 0; i < 4; i++) yield* run({ _tag: "ForgetGarbage", versionIds: [], now: T + TIMEOUT + 1000 + i })
      const pruned = yield* bytes
      expect(pruned.length).toBeLessThan(withSession.length)
      // What remains is the namespace and the counters, as without any session (same length class).
      expect(pruned.length - empty).toBeLessThan(withSession.length - empty)
    }))

  it.effect("pruning files sessions by interval but expires them exactly: a session still in its timeout survives, and an expired one leaves nothing", () =>
    Effect.gen(function*() {
      const { bytes, run } = yield* machine
      const empty = (yield* bytes).length
      // Active late in an interval of the activity index (TIMEOUT / 8 = 1250 ms here).
      const lastActive = T + 1249
      yield* run(open(A, T))
      expect((yield* run(create("f", lastActive), tag(A, 1, 1)))._tag).toBe("Ok")
      // Past the timeout of the interval's start, not of the last activity: pruning passes by.
      const early = lastActive + TIMEOUT - 100
      for (let i = 0; i < 4; i++) yield* run({ _tag: "ForgetGarbage", versionIds: [], now: early })
      expect((yield* run(create("g", early), tag(A, 2, 2)))._tag).toBe("Ok")
      // Once it did expire, pruning drops every row of it (the files stay).
      const late = early + TIMEOUT + 1
      for (let i = 0; i < 4; i++) yield* run({ _tag: "ForgetGarbage", versionIds: [], now: late })
      expect(errorOf(yield* run(create("h", late), tag(A, 3, 3)))).toBe("SessionExpired")
      const { run: runBare, bytes: bareBytes } = yield* machine
      yield* runBare(create("f", lastActive))
      yield* runBare(create("g", early))
      for (let i = 0; i < 8; i++) yield* runBare({ _tag: "ForgetGarbage", versionIds: [], now: late })
      expect((yield* bytes).length - empty).toBe((yield* bareBytes).length - empty)
    }))

  it.effect("a Conflict is no answer: the same request is carried out when resent", () =>
    Effect.gen(function*() {
      const { md, run } = yield* machine
      yield* run(open(A))
      const file = yield* run(create("f"))
      const inode = file._tag === "Ok" ? file.result!.inode : 0
      const write = (expectedVersionId: string | null): MetadataCommand => ({
        _tag: "CommitWrite", inode, txId: "t", end: 10, now: T,
        updates: [{
          expectedVersionId,
          expectedLength: expectedVersionId === null ? 0 : 10,
          chunk: { index: 0, versionId: "v2", storedLength: 10, length: 10, checksum: 1, nodes: ["n"] }
        }]
      })
      // The first attempt planned against a version that is not there: Conflict, not recorded.
      expect(errorOf(yield* run(write("v1"), tag(A, 1, 5)))).toBe("Conflict")
      // The next attempt of the same request commits.
      expect((yield* run(write(null), tag(A, 1, 5)))._tag).toBe("Ok")
      expect((yield* md.chunks(inode)).map((c) => c.versionId)).toEqual(["v2"])
    }))

  it.effect("a closed session refuses further requests", () =>
    Effect.gen(function*() {
      const { names, run } = yield* machine
      yield* run(open(A))
      yield* run(create("x"), tag(A, 1, 1))
      yield* run({ _tag: "CloseSession", session: A, now: T })
      expect(errorOf(yield* run(create("y"), tag(A, 2, 2)))).toBe("SessionExpired")
      expect(yield* names).toEqual(["x"])
    }))
})
