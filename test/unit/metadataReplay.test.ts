/**
 * Replicated-state-machine properties of the metadata store: replay after a restart is
 * idempotent, client requests apply at most once, equal logs give equal bytes on either store,
 * and snapshots restore exactly. Random logs come from seeded fast-check. (Session rules one
 * by one: metadataSessions.test.ts.)
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Schema } from "effect"
import fc from "fast-check"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { CommandOutcome, type LogEntry, type MetadataCommand } from "../../src/domain/commands.ts"
import { ROOT_INODE } from "../../src/domain/fs.ts"
import type { SessionId } from "../../src/domain/session.ts"
import { bytesSource, type MetadataServiceShape } from "../../src/services/MetadataService.ts"
import { openClassicLevel } from "../../layers/metadata/classicLevel.ts"
import { makeMemoryNamespace } from "../../layers/metadata/memory.ts"
import { makeNamespace } from "../../layers/metadata/namespace.ts"
import { makeStore } from "../../layers/metadata/store.ts"
import { snapshotBytes } from "../support/snapshotBytes.ts"

const CHUNK = 64
const T = 1_700_000_000_000

const encodeOutcome = Schema.encodeSync(CommandOutcome)
const OK_NULL = encodeOutcome({ _tag: "Ok", result: null })

// --- random logs over a small namespace, so commands collide and fail in every way -------

// Low inode numbers exist most of the time; the root is the likeliest parent.
const inode = fc.integer({ min: 1, max: 7 })
const parent = fc.oneof({ arbitrary: fc.constant(ROOT_INODE), weight: 2 }, { arbitrary: inode, weight: 3 })
const name = fc.oneof({ arbitrary: fc.constantFrom("a", "b", "c"), weight: 9 }, { arbitrary: fc.constantFrom("", ".."), weight: 1 })
const now = fc.integer({ min: 0, max: 10_000 }).map((n) => T + n)
const version = fc.integer({ min: 0, max: 200 }).map((n) => `v${n}`)
/** Stands for "the version there now", filled in by `resolve` so most writes commit. */
const CURRENT = "@current"

const weighted = <A>(weight: number, arbitrary: fc.Arbitrary<A>) => ({ weight, arbitrary })

const command: fc.Arbitrary<MetadataCommand> = fc.oneof(
  weighted(3, fc.record({
    _tag: fc.constant("Create" as const), parent, name, mode: fc.constantFrom(0o644, 0o600), uid: fc.constant(1),
    gid: fc.constant(1), exclusive: fc.boolean(), now
  })),
  weighted(1, fc.record({ _tag: fc.constant("Mkdir" as const), parent, name, mode: fc.constant(0o755), uid: fc.constant(1), gid: fc.constant(1), now })),
  weighted(1, fc.record({ _tag: fc.constant("Unlink" as const), parent, name, now })),
  weighted(1, fc.record({ _tag: fc.constant("Rmdir" as const), parent, name, now })),
  weighted(1, fc.record({ _tag: fc.constant("Rename" as const), srcParent: parent, srcName: name, dstParent: parent, dstName: name, now })),
  weighted(2, fc.record({
    _tag: fc.constant("SetAttr" as const),
    inode,
    changes: fc.record(
      { mode: fc.constantFrom(0o600, 0o644), mtime: now, size: fc.integer({ min: 0, max: 4 * CHUNK }) },
      { requiredKeys: [] }
    ),
    now
  })),
  weighted(4, fc.record({
    inode,
    now,
    updates: fc.uniqueArray(
      fc.record({
        expectedVersionId: fc.oneof({ arbitrary: fc.constant(CURRENT), weight: 4 }, { arbitrary: fc.option(version, { nil: null }), weight: 1 }),
        index: fc.integer({ min: 0, max: 3 }),
        versionId: version,
        length: fc.integer({ min: 1, max: CHUNK })
      }),
      { minLength: 1, maxLength: 3, selector: (u) => u.index }
    )
  }).map(({ inode, now, updates }): MetadataCommand => ({
    _tag: "CommitWrite",
    inode,
    txId: "tx",
    now,
    end: Math.max(...updates.map((u) => u.index * CHUNK + u.length)),
    updates: updates.map((u) => ({
      expectedVersionId: u.expectedVersionId,
      expectedLength: u.expectedVersionId === null ? 0 : u.length,
      chunk: { index: u.index, versionId: u.versionId, storedLength: CHUNK, length: u.length, checksum: 1, nodes: ["n1"] }
    }))
  }))),
  weighted(1, fc.record({ _tag: fc.constant("ForgetGarbage" as const), versionIds: fc.uniqueArray(version, { maxLength: 3 }) })),
  weighted(1, fc.constant({ _tag: "Noop" as const }))
)

/** Two client sessions, opened at the start of every log. */
const SESSIONS = ["a".repeat(32), "b".repeat(32)] as Array<SessionId>

/** A stand-in digest: requests for the same kind of command count as the same request. */
const digestOf = (command: MetadataCommand) => command._tag.length * 31 + command._tag.charCodeAt(0)

const entry: fc.Arbitrary<LogEntry> = fc.record({
  request: fc.option(fc.record({ session: fc.constantFrom(...SESSIONS), seq: fc.integer({ min: 1, max: 6 }) }), { nil: null, freq: 2 }),
  command
}).map(({ command, request }) => ({
  command,
  request: request === null ? null : { ...request, ackedBelow: 0, digest: digestOf(command) }
}))

const opening: ReadonlyArray<LogEntry> = SESSIONS.map((session) => ({ request: null, command: { _tag: "OpenSession", session, create: true, now: T } }))

const log = fc.array(entry, { minLength: 1, maxLength: 80, size: "max" }).map((entries) => [...opening, ...entries])

// --- helpers ------------------------------------------------------------------------------

const memory = makeMemoryNamespace({ chunkSize: CHUNK })

/** The log with every CURRENT expectation replaced by the version present when the entry applies. */
const resolve = (entries: ReadonlyArray<LogEntry>) =>
  Effect.scoped(Effect.gen(function*() {
    const md = yield* memory
    const resolved: Array<LogEntry> = []
    for (const e of entries) {
      let entry = e
      const command = e.command
      if (command._tag === "CommitWrite") {
        const current = yield* Effect.orElseSucceed(md.chunks(command.inode), () => [])
        entry = {
          ...e,
          command: {
            ...command,
            updates: command.updates.map((u) =>
              u.expectedVersionId === CURRENT
                ? { ...u, expectedVersionId: current.find((c) => c.index === u.chunk.index)?.versionId ?? null }
                : u
            )
          }
        }
      }
      resolved.push(entry)
      yield* md.apply(resolved.length, entry)
    }
    return resolved
  }))

const errorTag = (outcome: unknown) =>
  (outcome as { _tag: string; error?: { _tag: string } })._tag === "Err" ? (outcome as { error: { _tag: string } }).error._tag : undefined
const isConflict = (outcome: unknown) => errorTag(outcome) === "Conflict"

/** Each request's recorded outcome after the whole log (its first one that was not a Conflict), with its digest. */
const recordedOutcomes = (entries: ReadonlyArray<LogEntry>, outcomes: ReadonlyArray<unknown>) => {
  const recorded = new Map<string, { readonly digest: number; readonly outcome: unknown }>()
  entries.forEach((e, i) => {
    if (e.request === null) return
    const key = `${e.request.session}/${e.request.seq}`
    if (!recorded.has(key) && !isConflict(outcomes[i]) && errorTag(outcomes[i]) !== "RequestIdReused") {
      recorded.set(key, { digest: e.request.digest, outcome: outcomes[i] })
    }
  })
  return recorded
}

const applyAll = (md: MetadataServiceShape, entries: ReadonlyArray<LogEntry>, from = 1) =>
  Effect.forEach(entries.slice(from - 1), (e, i) => Effect.map(md.apply(from + i, e), encodeOutcome))

const bytesOf = (md: MetadataServiceShape) => Effect.map(snapshotBytes(md), (s) => Buffer.from(s.data))

const tempDir = Effect.acquireRelease(
  Effect.sync(() => mkdtempSync(join(tmpdir(), "sandstore-metadata-replay-"))),
  (dir) => Effect.sync(() => rmSync(dir, { recursive: true, force: true }))
)

const classic = Effect.gen(function*() {
  const dir = yield* tempDir
  const db = yield* openClassicLevel(join(dir, "db"))
  return yield* makeNamespace(makeStore(db, { sync: false }), { chunkSize: CHUNK })
})

/** Checks `body` for `numRuns` seeded random logs (plus whatever else `extra` draws). */
const property = <A>(
  extra: (entries: ReadonlyArray<LogEntry>) => fc.Arbitrary<A>,
  numRuns: number,
  body: (entries: ReadonlyArray<LogEntry>, value: A) => Effect.Effect<void, unknown, never>
) =>
  Effect.promise(() =>
    fc.assert(
      fc.asyncProperty(log.chain((entries) => fc.tuple(fc.constant(entries), extra(entries))), ([raw, value]) =>
        Effect.runPromise(Effect.flatMap(resolve(raw), (entries) => body(entries, value)))),
      { seed: 42, numRuns }
    )
  )
const nothing = () => fc.constant(undefined)

describe("metadata state machine replay", () => {
  it.effect("replaying a log, whole or from a restart point, gives the same bytes and outcomes", () =>
    property(
      (entries) =>
        fc.integer({ min: 0, max: entries.length }).chain((restartAt) =>
          fc.tuple(fc.constant(restartAt), fc.integer({ min: 1, max: Math.max(1, restartAt) }))
        ),
      100,
      (entries, [restartAt, replayFrom]) =>
        Effect.scoped(Effect.gen(function*() {
          const a = yield* memory
          const outcomes = yield* applyAll(a, entries)
          const final = yield* bytesOf(a)
          expect(yield* a.appliedIndex).toBe(entries.length)

          // Replay of the whole log: nothing changes; an entry serving a request answers with the
          // outcome recorded for that request, every other one with Ok(null).
          const replayed = yield* applyAll(a, entries)
          const recorded = recordedOutcomes(entries, outcomes)
          replayed.forEach((outcome, i) => {
            const request = entries[i]!.request
            const record = request === null ? undefined : recorded.get(`${request.session}/${request.seq}`)
            expect(outcome).toEqual(record !== undefined && record.digest === request!.digest ? record.outcome : OK_NULL)
          })
          expect((yield* bytesOf(a)).equals(final)).toBe(true)

          // Crash after `restartAt` entries, restart from a snapshot, replay from `replayFrom`.
          const b = yield* memory
          yield* applyAll(b, entries.slice(0, restartAt))
          const c = yield* memory
          yield* c.restore(bytesSource((yield* snapshotBytes(b)).data))
          const resumed = yield* applyAll(c, entries, replayFrom)
          resumed.forEach((outcome, i) => {
            const index = replayFrom + i
            if (index > restartAt) expect(outcome).toEqual(outcomes[index - 1])
          })
          expect((yield* bytesOf(c)).equals(final)).toBe(true)
        }))
    ))

  it.effect("a resent request returns its first outcome (another request under its id is refused) and changes nothing", () =>
    property(nothing, 100, (entries) =>
      Effect.scoped(Effect.gen(function*() {
        const a = yield* memory
        const outcomes = yield* applyAll(a, entries)
        // The same log with every entry whose request was already answered replaced by a Noop.
        // (A Conflict is no answer: the request was not carried out, and may be again.)
        const answered = new Map<string, { readonly digest: number; readonly outcome: unknown }>()
        const withoutRepeats = entries.map((e, i): LogEntry => {
          if (e.request === null) return e
          const key = `${e.request.session}/${e.request.seq}`
          const first = answered.get(key)
          if (first === undefined) {
            if (!isConflict(outcomes[i])) answered.set(key, { digest: e.request.digest, outcome: outcomes[i] })
            return e
          }
          if (first.digest === e.request.digest) expect(outcomes[i]).toEqual(first.outcome)
          else expect(errorTag(outcomes[i])).toBe("RequestIdReused")
          return { request: null, command: { _tag: "Noop" } }
        })
        const b = yield* memory
        yield* applyAll(b, withoutRepeats)
        expect((yield* bytesOf(a)).equals(yield* bytesOf(b))).toBe(true)
      }))
    ))

  it.effect("classic-level and memory-level produce identical bytes for the same log", () =>
    property(nothing, 20, (entries) =>
      Effect.scoped(Effect.gen(function*() {
        const a = yield* memory
        const b = yield* classic
        expect(yield* applyAll(b, entries)).toEqual(yield* applyAll(a, entries))
        expect((yield* bytesOf(b)).equals(yield* bytesOf(a))).toBe(true)
      }))
    ))
})

const create = (name: string, exclusive = true): MetadataCommand =>
  ({ _tag: "Create", parent: ROOT_INODE, name, mode: 0o644, uid: 1, gid: 1, exclusive, now: T })

describe("metadata state machine replay and snapshots", () => {
  it.scoped("an entry at or below the applied index is a no-op", () =>
    Effect.gen(function*() {
      const md = yield* memory
      const session = SESSIONS[0]!
      yield* md.apply(1, { request: null, command: { _tag: "OpenSession", session, create: true, now: T } })
      const tag = { session, seq: 1, ackedBelow: 0, digest: 7 }
      const first = yield* md.apply(2, { request: tag, command: create("x") })
      yield* md.apply(3, { request: null, command: create("y") })
      const before = yield* bytesOf(md)
      expect(encodeOutcome(yield* md.apply(2, { request: tag, command: create("other") }))).toEqual(encodeOutcome(first))
      expect(yield* md.apply(3, { request: null, command: create("z") })).toEqual({ _tag: "Ok", result: null })
      expect(yield* md.apply(0, { request: { ...tag, seq: 9 }, command: create("z") })).toEqual({ _tag: "Ok", result: null })
      expect((yield* bytesOf(md)).equals(before)).toBe(true)
      expect(yield* md.appliedIndex).toBe(3)
      // Indices may jump (after a snapshot install); the next entry still applies.
      yield* md.apply(10, { request: null, command: create("w") })
      expect(yield* md.appliedIndex).toBe(10)
    }))

  for (const [storeName, open] of [["memory-level", memory], ["classic-level", classic]] as const) {
    it.scoped(`applies are serialized on ${storeName}: concurrent applies never share an inode number`, () =>
      Effect.gen(function*() {
        const md = yield* open
        const outcomes = yield* Effect.forEach(
          Array.from({ length: 50 }, (_, i) => i + 1),
          (index) => md.apply(index, { request: null, command: create(`f${index}`) }),
          { concurrency: "unbounded" }
        )
        const inodes = outcomes.flatMap((o) => (o._tag === "Ok" && o.result !== null ? [o.result.inode] : []))
        expect(new Set(inodes).size).toBe(inodes.length)
        expect((yield* md.fsstat).files).toBe(inodes.length)
        expect(inodes.length).toBeGreaterThan(0)
      }))
  }

  it.scoped("snapshot then restore into a fresh store gives identical bytes", () =>
    Effect.gen(function*() {
      const source = yield* memory
      const entries = yield* resolve(fc.sample(log, { seed: 7, numRuns: 1 })[0]!)
      yield* applyAll(source, entries)
      const snapshot = yield* snapshotBytes(source)
      expect(snapshot.appliedIndex).toBe(entries.length)

      const target = yield* memory
      // The target has state of its own, which the restore must replace entirely.
      yield* target.apply(1, { request: null, command: create("unrelated") })
      yield* target.restore(bytesSource(snapshot.data))
      expect(Buffer.from((yield* snapshotBytes(target)).data).equals(Buffer.from(snapshot.data))).toBe(true)
      expect(yield* target.appliedIndex).toBe(entries.length)
      yield* Effect.flip(target.lookup(ROOT_INODE, "unrelated"))
      expect(yield* target.fsstat).toEqual(yield* source.fsstat)
    }))

  it.scoped("a damaged snapshot is refused as Corruption and changes nothing", () =>
    Effect.gen(function*() {
      const source = yield* memory
      yield* source.apply(1, { request: null, command: create("x") })
      const good = Buffer.from((yield* snapshotBytes(source)).data)
      const target = yield* memory
      yield* target.apply(1, { request: null, command: create("mine") })
      const before = yield* bytesOf(target)
      const flipped = Buffer.from(good)
      flipped[20] = flipped[20]! ^ 0x01
      for (const damaged of [flipped, good.subarray(0, good.length - 1), Buffer.from("not a snapshot"), new Uint8Array(0)]) {
        const error = yield* Effect.flip(target.restore(bytesSource(damaged)))
        expect(error._tag).toBe("Corruption")
        expect((yield* bytesOf(target)).equals(before)).toBe(true)
      }
    }))
})
