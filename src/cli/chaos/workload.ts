/**
 * The chaos workload: C client fibers, each with its own SDK client over TCP, writing and
 * reading a few files so they contend, and recording every operation into the history.
 *
 * Every recorded operation must take effect atomically, as the checkers' model assumes. The
 * SDK's writeFile is two commits (truncate, then write), so a whole-file write is a pwrite at
 * offset 0 of WHOLE_LENGTH bytes of fresh seeded content, and every other pwrite stays inside
 * the first WHOLE_LENGTH bytes: the file is never longer, so a whole-file write replaces all of
 * it in one CommitWrite (one chunk, one flush). Reads, creates (O_CREAT|O_EXCL) and unlinks
 * are single operations too.
 *
 * Besides, each client appends records to a journal file of its own (/chaos-journal-<i>) at
 * offsets it never reuses, whatever the outcome: nothing ever overwrites or removes an
 * acknowledged record, so every one of them must read back at the end.
 *
 * A completion is `fail` only for a refusal that says the operation did not happen (NotFound,
 * AlreadyExists, the shape errors); anything else — a timeout, an unreachable cluster, a
 * conflict that outlived the SDK's retries — is `info`: it may still take effect. After an
 * `info` the client is rebuilt, so a client stuck on a paused node moves on.
 */
import { Clock, Context, Duration, Effect, Layer, Logger, LogLevel, Random } from "effect"
import type { RetryOptions } from "../../client/Invoker.ts"
import { SandstoreClient, type SandstoreClientShape } from "../../client/SandstoreClient.ts"
import { identifyContent, patternBytes } from "../../sim/content.ts"
import type { Operation, Result } from "../../sim/history.ts"
import type { Communicator } from "../../services/Communicator.ts"
import type { Recorder } from "../../sim/recorder.ts"

/** The paths the clients contend on (flat, so each is its own partition for the checker). */
export const CHAOS_PATHS: ReadonlyArray<string> = Array.from({ length: 6 }, (_, i) => `/chaos-${i}`)

/** Bytes of a whole-file write; every pwrite stays within them. Well inside one chunk. */
export const WHOLE_LENGTH = 8192

/** Longest pwrite at an offset. */
const PWRITE_MAX = 2048

/** Bytes of a journal record; it divides the chunk size, so no record spans two chunks. */
export const JOURNAL_RECORD = 1024

/** Percent of a client's operations that go to its journal. */
const JOURNAL_SHARE = 20

export const journalPath = (client: number) => `/chaos-journal-${client}`

/** Bounds each SDK attempt so a paused node costs seconds, not minutes. */
export const CLIENT_RETRY: RetryOptions = { retries: 4, baseDelay: "50 millis", maxDelay: "1 second", attemptTimeout: "3 seconds" }

const DEFINITE = new Set(["NotFound", "AlreadyExists", "NotEmpty", "NotADirectory", "IsADirectory", "InvalidArgument", "PermissionDenied"])

export interface WorkloadOptions {
  readonly clients: number
  readonly seed: number
  readonly addresses: ReadonlyArray<string>
  readonly log: Recorder
  /** Clock time (ms) at or after which no client starts an operation. */
  readonly stopAt: number
  /** An operation without an outcome by then is recorded as `info` Timeout. */
  readonly operationTimeout: Duration.DurationInput
  /** Where defects of the SDK (unexpected errors, not typed answers) are noted. */
  readonly defects: DefectLog
}

/** Defects seen by the clients, described, in the order they happened. */
export interface DefectLog {
  readonly note: (description: string) => Effect.Effect<void>
  readonly all: () => ReadonlyArray<string>
}

export const makeDefectLog = (): DefectLog => {
  const seen: Array<string> = []
  return { note: (description) => Effect.sync(() => void seen.push(description)), all: () => [...seen] }
}

const describeDefect = (defect: unknown): string =>
  defect instanceof Error ? `${defect.name}: ${defect.message}${defect.cause === undefined ? "" : ` (${String(defect.cause)})`}` : String(defect)

const WEIGHTS: ReadonlyArray<readonly ["read" | "whole" | "pwrite" | "create" | "unlink", number]> = [
  ["read", 25], ["whole", 27], ["pwrite", 22], ["create", 16], ["unlink", 10]
]
const TOTAL_WEIGHT = WEIGHTS.reduce((sum, [, weight]) => sum + weight, 0)

/** The next operation of a client, drawn from its own Random. */
export const nextOperation = (random: Random.Random): Effect.Effect<Operation> =>
  Effect.gen(function*() {
    let roll = yield* random.nextIntBetween(0, TOTAL_WEIGHT)
    let kind: (typeof WEIGHTS)[number][0] = "read"
    for (const [name, weight] of WEIGHTS) {
      if (roll < weight) {
        kind = name
        break
      }
      roll -= weight
    }
    const path = CHAOS_PATHS[yield* random.nextIntBetween(0, CHAOS_PATHS.length)]!
    const seed = yield* random.nextIntBetween(1, 2 ** 31 - 1)
    switch (kind) {
      case "whole":
        return { f: "pwrite", path, offset: 0, seed, length: WHOLE_LENGTH }
      case "pwrite": {
        const offset = yield* random.nextIntBetween(0, WHOLE_LENGTH)
        const length = yield* random.nextIntBetween(1, Math.min(PWRITE_MAX, WHOLE_LENGTH - offset) + 1)
        return { f: "pwrite", path, offset, seed, length }
      }
      case "read":
      case "create":
      case "unlink":
        return { f: kind, path }
    }
  })

const done = Effect.as<Result>({ _tag: "Done" })

/** `op` through the SDK. */
export const perform = (client: SandstoreClientShape, op: Operation) => {
  switch (op.f) {
    case "read":
      return Effect.map(client.readFile(op.path), (bytes): Result => {
        const content = identifyContent(bytes)
        return content === undefined ? { _tag: "Bytes", bytes } : { _tag: "Content", content }
      })
    case "pwrite":
      return done(Effect.scoped(Effect.flatMap(client.openScoped(op.path, "r+"), (handle) =>
        Effect.zipRight(handle.write(patternBytes(op.seed, op.length), op.offset), handle.sync))))
    case "create":
      return done(Effect.flatMap(client.open(op.path, "wx"), (handle) => handle.close))
    case "unlink":
      return done(client.unlink(op.path))
    default:
      return Effect.dieMessage(`the chaos workload does not issue ${op.f}`)
  }
}

/** Run and record one operation; resolves with how it completed. */
const recordOperation = (options: WorkloadOptions, index: number, client: SandstoreClientShape, op: Operation) =>
  Effect.gen(function*() {
    const id = yield* options.log.invoke(index, op)
    // Disconnected: a timed-out call finishes (or not) on its own; `info` says it may land later.
    const outcome = yield* perform(client, op).pipe(
      Effect.disconnect,
      Effect.timeout(options.operationTimeout),
      // A defect is the SDK's bug, not the cluster's answer: noted, and indeterminate here.
      Effect.catchAllDefect((defect) =>
        Effect.zipRight(options.defects.note(`${op.f} ${op.path}: ${describeDefect(defect)}`), Effect.fail({ _tag: "Defect" } as const))
      ),
      Effect.either
    )
    if (outcome._tag === "Right") {
      yield* options.log.ok(id, index, outcome.right)
      return { type: "ok" } as const
    }
    const tag = outcome.left._tag === "TimeoutException" ? "Timeout" : outcome.left._tag
    if (DEFINITE.has(tag)) {
      yield* options.log.fail(id, index, tag)
      return { type: "fail", error: tag } as const
    }
    yield* options.log.info(id, index, tag)
    return { type: "info", error: tag } as const
  })

const before = (stopAt: number) => Effect.map(Clock.currentTimeMillis, (now) => now < stopAt)

/** A client's journal: created yet, and where the next record goes. */
interface Journal {
  created: boolean
  next: number
}

/** The journal's next operation: its creation until that is known to have happened, then an append. */
const journalOperation = (index: number, journal: Journal, random: Random.Random) =>
  Effect.gen(function*() {
    const path = journalPath(index)
    if (!journal.created) return { f: "create", path } satisfies Operation
    const offset = journal.next
    journal.next += JOURNAL_RECORD
    return { f: "pwrite", path, offset, seed: yield* random.nextIntBetween(1, 2 ** 31 - 1), length: JOURNAL_RECORD } satisfies Operation
  })

/** One client connection: operations until an indeterminate outcome or the end of the run. */
const session = (options: WorkloadOptions, index: number, random: Random.Random, journal: Journal) =>
  Effect.gen(function*() {
    const seeds = options.addresses.map((_, k) => options.addresses[(index + k) % options.addresses.length]!)
    const context = yield* Layer.build(SandstoreClient.layer({ seeds: [...seeds], retry: CLIENT_RETRY }))
    const client = Context.get(context, SandstoreClient)
    while (yield* before(options.stopAt)) {
      const toJournal = (yield* random.nextIntBetween(0, 100)) < JOURNAL_SHARE
      const op = toJournal ? yield* journalOperation(index, journal, random) : yield* nextOperation(random)
      const outcome = yield* recordOperation(options, index, client, op)
      if (toJournal && op.f === "create" && outcome.type !== "info") journal.created = true
      if (outcome.type === "info") return
      yield* Effect.sleep(Duration.millis(yield* random.nextIntBetween(0, 30)))
    }
  }).pipe(Effect.scoped)

const runClient = (options: WorkloadOptions, index: number) =>
  Effect.gen(function*() {
    const random = Random.make(`chaos/${options.seed}/client/${index}`)
    const journal: Journal = { created: false, next: 0 }
    while (yield* before(options.stopAt)) {
      // No reachable node (quorum lost, every seed down): try again shortly.
      yield* session(options, index, random, journal).pipe(
        Effect.catchTag("Unavailable", () => Effect.sleep("500 millis")),
        Effect.catchAllDefect((defect) =>
          Effect.zipRight(options.defects.note(`connecting: ${describeDefect(defect)}`), Effect.sleep("500 millis"))
        )
      )
    }
  }).pipe(Effect.withRandom(Random.make(`chaos/${options.seed}/client/${index}/sdk`)))

/**
 * Every client, until `stopAt` and the last operation has an outcome. The SDK's warnings (a
 * timed-out write's handle closed unflushed) are expected here and already in the history.
 */
export const runWorkload = (options: WorkloadOptions): Effect.Effect<void, never, Communicator> =>
  Effect.forEach(Array.from({ length: options.clients }, (_, i) => i), (i) => runClient(options, i), {
    concurrency: "unbounded",
    discard: true
  }).pipe(Logger.withMinimumLogLevel(LogLevel.Error))
