/**
 * The workload: C concurrent clients, each the real SDK (SandstoreClient over a SeedRouter on
 * the simulated network; the last one over a router that sends each request to the next node
 * in turn), issuing operations on a few paths so they contend, and recording each one's
 * invocation and completion.
 *
 * Each operation must match the checkers' model: namespace operations take effect in one step;
 * read, pwrite and truncate look the path up first and then act on that file (the model's
 * handles), each in one commit. So writes are single-piece pwrites (they never cross a chunk
 * boundary: one CommitWrite), and
 * a whole-file replacement is a pwrite at 0 of WHOLE_LENGTH bytes on a file no longer than
 * that. The SDK's writeFile (truncate, then write) is two commits, and is not used.
 *
 * A completion is `fail` only for refusals that say the operation did not happen (NotFound,
 * AlreadyExists, the shape errors); a timeout, unavailability or conflict is `info`.
 */
import { Clock, Duration, Effect, Layer, Random, Schedule } from "effect"
import { SessionIds } from "../client/ClientSession.ts"
import { SandstoreClient, type SandstoreClientShape } from "../client/SandstoreClient.ts"
import type { SessionId } from "../domain/session.ts"
import * as SeedRouter from "../client/SeedRouter.ts"
import { roamingRouter } from "./roamingRouter.ts"
import { APPEND_LOG, encodeRecord } from "./appendLog.ts"
import { identifyContent, patternBytes } from "./content.ts"
import { DEFINITE_ERRORS, writeThroughHandle } from "./handleWrites.ts"
import type { Operation, Result } from "./history.ts"
import type { SimNetwork } from "./network.ts"
import type { Recorder } from "./recorder.ts"
import { boundedBy } from "./timeout.ts"

export interface WorkloadOptions {
  readonly clients: number
  readonly seed: number
  readonly chunkSize: number
  /** Node addresses; client i tries them starting at i, so clients land on different nodes. */
  readonly addresses: ReadonlyArray<string>
  readonly network: SimNetwork
  readonly recorder: Recorder
  /** Clients start no operation at or after this simulated time. */
  readonly stopAt: number
  /** An operation without an outcome by then is recorded as `info` Timeout. */
  readonly operationTimeout: Duration.DurationInput
  /** Where the clients' session ids come from (default: the run's seeded Random). */
  readonly sessionIds?: Layer.Layer<SessionIds>
}

export const FILES = ["/a", "/b", "/d/c"]
export const DIRECTORIES = ["/d", "/e"]
/** Not "/": the liveness probe works in "/.probe", which no operation of the history may see. */
const LISTED = ["/d", "/e"]
/** Length of a whole-file replacement, less than one chunk. */
export const WHOLE_LENGTH = 600


/** Retries spanning several seconds (as the SDK's defaults do), so a client resends across a fault. */
export const clientSettings = {
  retry: { retries: 8, baseDelay: "50 millis", maxDelay: "1 second", attemptTimeout: "1 second" }
} as const

/**
 * Session ids from the run's seeded Random (128 bits of it), so a seed replays the same ids:
 * the simulation's stand-in for the SDK's cryptographic source.
 */
export const seededSessionIds = Layer.succeed(SessionIds, {
  next: Effect.map(
    Effect.all(Array.from({ length: 4 }, () => Random.nextIntBetween(0, 2 ** 32))),
    (words) => words.map((word) => word.toString(16).padStart(8, "0")).join("") as SessionId
  )
})

/**
 * The SDK of simulated client `host`, routed over the simulated network from `first`; a
 * roaming client sends each request to the next node in turn (src/sim/roamingRouter.ts).
 */
export const simulatedClient = (
  network: SimNetwork,
  host: string,
  addresses: ReadonlyArray<string>,
  first: number,
  sessionIds: Layer.Layer<SessionIds> = seededSessionIds,
  roaming = false
) => {
  const seeds = addresses.map((_, k) => addresses[(first + k) % addresses.length]!)
  return SandstoreClient.layerFromRouter(clientSettings).pipe(
    Layer.provide(roaming ? roamingRouter(seeds) : SeedRouter.layer({ seeds })),
    Layer.provide(network.communicator(host)),
    Layer.provide(sessionIds)
  )
}

/** A uniformly drawn element. */
const pick = <A>(random: Random.Random, items: ReadonlyArray<A>) =>
  Effect.map(random.nextIntBetween(0, items.length), (i) => items[i]!)

const WEIGHTS: ReadonlyArray<readonly [Operation["f"], number]> = [
  ["read", 24], ["pwrite", 26], ["create", 10], ["unlink", 6], ["truncate", 8],
  ["rename", 6], ["mkdir", 6], ["rmdir", 5], ["readdir", 9], ["append", 20]
]
const TOTAL_WEIGHT = WEIGHTS.reduce((sum, [, w]) => sum + w, 0)

export const nextOperation = (random: Random.Random, chunkSize: number): Effect.Effect<Operation> =>
  Effect.gen(function*() {
    let roll = yield* random.nextIntBetween(0, TOTAL_WEIGHT)
    let f: Operation["f"] = "read"
    for (const [name, weight] of WEIGHTS) {
      if (roll < weight) {
        f = name
        break
      }
      roll -= weight
    }
    const file = yield* pick(random, FILES)
    const seed = yield* random.nextIntBetween(1, 2 ** 31 - 1)
    switch (f) {
      case "pwrite": {
        // Half of the writers, after an unknown outcome, resend later: sometimes past the session timeout.
        const resend = (yield* random.nextBoolean) ? { resendAfterMillis: yield* random.nextIntBetween(200, 4000) } : {}
        if (yield* random.nextBoolean) return { f, path: file, offset: 0, seed, length: WHOLE_LENGTH, ...resend }
        // Sparse and overlapping ranges, each inside one chunk.
        const offset = yield* random.nextIntBetween(0, 2 * chunkSize)
        const room = chunkSize - (offset % chunkSize)
        return { f, path: file, offset, seed, length: yield* random.nextIntBetween(1, room + 1), ...resend }
      }
      case "truncate": {
        const size = (yield* random.nextBoolean) ? 0 : yield* random.nextIntBetween(0, 2 * chunkSize)
        return { f, path: file, size }
      }
      case "rename":
        return (yield* random.nextIntBetween(0, 5)) === 0
          ? { f, path: yield* pick(random, DIRECTORIES), to: yield* pick(random, DIRECTORIES) }
          : { f, path: file, to: yield* pick(random, FILES) }
      case "mkdir":
      case "rmdir":
        return { f, path: yield* pick(random, DIRECTORIES) }
      case "readdir":
        return { f, path: yield* pick(random, LISTED) }
      case "append": {
        const resend = (yield* random.nextBoolean) ? { resendAfterMillis: yield* random.nextIntBetween(200, 4000) } : {}
        return { f, path: APPEND_LOG, record: seed, ...resend }
      }
      case "write":
      case "read":
      case "create":
      case "unlink":
        return { f: f === "write" ? "read" : f, path: file }
    }
  })

/** Run `op` through the SDK, each call bounded by `timeout`. */
export const perform = (client: SandstoreClientShape, op: Operation, timeout: Duration.DurationInput) => {
  const done = Effect.as<Result>({ _tag: "Done" })
  switch (op.f) {
    case "read":
      return Effect.map(client.readFile(op.path), (bytes): Result => {
        const content = identifyContent(bytes)
        return content === undefined ? { _tag: "Bytes", bytes } : { _tag: "Content", content }
      })
    case "pwrite":
      return done(writeThroughHandle(client, {
        path: op.path,
        data: patternBytes(op.seed, op.length),
        offset: op.offset,
        timeout,
        ...(op.resendAfterMillis === undefined ? {} : { resendAfterMillis: op.resendAfterMillis })
      }))
    case "write":
      return done(client.writeFile(op.path, op.content === null ? new Uint8Array(0) : patternBytes(op.content.seed, op.content.length)))
    case "create":
      return done(Effect.flatMap(client.open(op.path, "wx"), (handle) => handle.close))
    case "unlink":
      return done(client.unlink(op.path))
    case "truncate":
      return done(client.truncate(op.path, op.size))
    case "rename":
      return done(client.rename(op.path, op.to))
    case "mkdir":
      return done(client.mkdir(op.path))
    case "rmdir":
      return done(client.rmdir(op.path))
    case "readdir":
      return Effect.map(client.readdir(op.path), (names): Result => ({ _tag: "Names", names: [...names].sort() }))
    case "append":
      return done(writeThroughHandle(client, {
        path: op.path,
        data: encodeRecord(op.record),
        timeout,
        ...(op.resendAfterMillis === undefined ? {} : { resendAfterMillis: op.resendAfterMillis })
      }))
  }
}

/** Record one operation from invocation to completion. */
export const recordOperation = (
  recorder: Recorder,
  clientIndex: number,
  client: SandstoreClientShape,
  op: Operation,
  timeout: Duration.DurationInput
) =>
  Effect.gen(function*() {
    const id = yield* recorder.invoke(clientIndex, op)
    // A write that resends later bounds each of its steps itself.
    const bounded = (op.f === "pwrite" || op.f === "append") && op.resendAfterMillis !== undefined
    const performed = perform(client, op, timeout)
    const outcome = yield* (bounded ? performed : boundedBy(timeout)(performed)).pipe(Effect.either)
    if (outcome._tag === "Right") return yield* recorder.ok(id, clientIndex, outcome.right)
    const tag = outcome.left._tag === "TimeoutException" ? "Timeout" : outcome.left._tag
    if (DEFINITE_ERRORS.has(tag)) yield* recorder.fail(id, clientIndex, tag)
    else yield* recorder.info(id, clientIndex, tag)
  })

/** The network host of workload client `index`. */
export const clientHost = (index: number) => `c${index}`

/** One client's life: connect, then operations with pauses until `stopAt`. */
const runClient = (options: WorkloadOptions, index: number) =>
  Effect.gen(function*() {
    const random = Random.make(options.seed * 7919 + index)
    const client = yield* SandstoreClient
    while ((yield* Clock.currentTimeMillis) < options.stopAt) {
      const op = yield* nextOperation(random, options.chunkSize)
      yield* recordOperation(options.recorder, index, client, op, options.operationTimeout)
      yield* Effect.sleep(Duration.millis(yield* random.nextIntBetween(0, 15)))
    }
  }).pipe(
    // The last client roams over the nodes, as one behind a load balancer would.
    Effect.provide(simulatedClient(options.network, clientHost(index), options.addresses, index, options.sessionIds, index === options.clients - 1)),
    // A client that cannot connect at all (every seed down at once) tries again.
    Effect.retry({ while: (error) => error._tag === "Unavailable", schedule: Schedule.spaced("1 second") }),
    Effect.orDie
  )

export const runWorkload = (options: WorkloadOptions): Effect.Effect<void> =>
  Effect.forEach(Array.from({ length: options.clients }, (_, i) => i), (i) => runClient(options, i), {
    concurrency: "unbounded",
    discard: true
  })
