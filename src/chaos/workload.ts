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
 * acknowledged record, so every one of them must read back at the end. And every client appends
 * numbered records with O_APPEND to one shared log (/chaos-log): a record applied twice shows up
 * twice there (the exactly-once audit, src/sim/check/exactlyOnce.ts).
 *
 * Clients lose replies (layers/transport/lossyReplies.ts): the SDK resends requests that already
 * took effect. Half of the writes and appends (not the journal's) whose outcome stays unknown
 * keep their handle and sync again 0.2–2.5 s later; every handle that closes with a piece still
 * unacknowledged flushes it once more. Either way the piece goes under its first session request.
 *
 * A completion is `fail` only for a refusal that says the operation did not happen (NotFound,
 * AlreadyExists, the shape errors); anything else — a timeout, an unreachable cluster, a
 * conflict that outlived the SDK's retries — is `info`: it may still take effect. After an
 * `info` the client is rebuilt, so a client stuck on a paused node moves on.
 */
import { Clock, Context, Duration, Effect, Layer, Logger, LogLevel, Random } from "effect"
import type { ReplyLoss } from "../../layers/transport/lossyReplies.ts"
import type { RetryOptions } from "../client/Invoker.ts"
import { SandstoreClient, type SandstoreClientShape } from "../client/SandstoreClient.ts"
import { DEFINITE_ERRORS } from "../sim/handleWrites.ts"
import type { Operation } from "../sim/history.ts"
import type { Communicator } from "../services/Communicator.ts"
import type { Recorder } from "../sim/recorder.ts"
import { perform } from "../sim/workload.ts"

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

/** The shared append-only log (records of src/sim/appendLog.ts). */
export const CHAOS_LOG = "/chaos-log"

/** Bounds each step of a write (open, write and sync, a resend's sync): room for two SDK attempts. */
const STEP_TIMEOUT = "5 seconds"

/** How much later a write or append with an unknown outcome is resent, when it is (ms). */
const RESEND_AFTER = [200, 2500] as const

/** Bounds each SDK attempt so a paused node costs seconds, not minutes. */
export const CLIENT_RETRY: RetryOptions = { retries: 4, baseDelay: "50 millis", maxDelay: "1 second", attemptTimeout: "2 seconds" }

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
  /** Loses replies to the clients' requests. */
  readonly replyLoss: ReplyLoss
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

const WEIGHTS: ReadonlyArray<readonly ["read" | "whole" | "pwrite" | "create" | "unlink" | "append", number]> = [
  ["read", 22], ["whole", 22], ["pwrite", 18], ["create", 12], ["unlink", 8], ["append", 18]
]
const TOTAL_WEIGHT = WEIGHTS.reduce((sum, [, weight]) => sum + weight, 0)

/** Half of the writes and appends sync their handle again later after an unknown outcome. */
const maybeResend = (random: Random.Random) =>
  Effect.gen(function*() {
    if (!(yield* random.nextBoolean)) return {}
    return { resendAfterMillis: yield* random.nextIntBetween(RESEND_AFTER[0], RESEND_AFTER[1] + 1) }
  })

/** Numbers client `client`'s records in the shared log: unique across clients and runs of a client. */
const recordNumber = (client: number, n: number) => client * 1_000_000 + n

/** The next operation of client `client`, drawn from its own Random; `appended` counts its appends so far. */
export const nextOperation = (random: Random.Random, client: number, appended: { n: number }): Effect.Effect<Operation> =>
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
        return { f: "pwrite", path, offset: 0, seed, length: WHOLE_LENGTH, ...(yield* maybeResend(random)) }
      case "pwrite": {
        const offset = yield* random.nextIntBetween(0, WHOLE_LENGTH)
        const length = yield* random.nextIntBetween(1, Math.min(PWRITE_MAX, WHOLE_LENGTH - offset) + 1)
        return { f: "pwrite", path, offset, seed, length, ...(yield* maybeResend(random)) }
      }
      case "append":
        return { f: "append", path: CHAOS_LOG, record: recordNumber(client, appended.n++), ...(yield* maybeResend(random)) }
      case "read":
      case "create":
      case "unlink":
        return { f: kind, path }
    }
  })

/** Run and record one operation; resolves with how it completed. */
const recordOperation = (options: WorkloadOptions, index: number, client: SandstoreClientShape, op: Operation) =>
  Effect.gen(function*() {
    const id = yield* options.log.invoke(index, op)
    // Disconnected: a timed-out call finishes (or not) on its own; `info` says it may land later.
    const outcome = yield* perform(client, op, STEP_TIMEOUT).pipe(
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
    if (DEFINITE_ERRORS.has(tag)) {
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

/** What a client carries from one connection to the next. */
interface ClientState {
  readonly journal: Journal
  /** Appends to the shared log so far. */
  readonly appended: { n: number }
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
const session = (options: WorkloadOptions, index: number, random: Random.Random, state: ClientState) =>
  Effect.gen(function*() {
    const { journal } = state
    const seeds = options.addresses.map((_, k) => options.addresses[(index + k) % options.addresses.length]!)
    const context = yield* Layer.build(
      SandstoreClient.layer({ seeds: [...seeds], retry: CLIENT_RETRY }).pipe(Layer.provide(options.replyLoss.layer))
    )
    const client = Context.get(context, SandstoreClient)
    while (yield* before(options.stopAt)) {
      const toJournal = (yield* random.nextIntBetween(0, 100)) < JOURNAL_SHARE
      const op = toJournal ? yield* journalOperation(index, journal, random) : yield* nextOperation(random, index, state.appended)
      const outcome = yield* recordOperation(options, index, client, op)
      if (toJournal && op.f === "create" && outcome.type !== "info") journal.created = true
      if (outcome.type === "info") return
      yield* Effect.sleep(Duration.millis(yield* random.nextIntBetween(0, 30)))
    }
  }).pipe(Effect.scoped)

const runClient = (options: WorkloadOptions, index: number) =>
  Effect.gen(function*() {
    const random = Random.make(`chaos/${options.seed}/client/${index}`)
    const state: ClientState = { journal: { created: false, next: 0 }, appended: { n: 0 } }
    while (yield* before(options.stopAt)) {
      // No reachable node (quorum lost, every seed down): try again shortly.
      yield* session(options, index, random, state).pipe(
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
