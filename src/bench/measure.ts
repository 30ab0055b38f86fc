/**
 * The measuring loop: workers run operations back to back until a deadline, each operation
 * timed with Clock. A window either keeps its samples (the timed window) or throws them away
 * (the warm-up). A failed operation is counted, never sampled, and the loop goes on.
 */
import { Clock, Data, Duration, Effect, Either } from "effect"
import type { ClientError } from "../client/errors.ts"
import { LatencySamples } from "./latencies.ts"

/** An operation's answer contradicted what the bench set up (wrong bytes, a missing entry). */
export class UnexpectedResult extends Data.TaggedError("UnexpectedResult")<{ readonly message: string }> {}

export type OperationFailure = ClientError | UnexpectedResult

export const describeFailure = (error: OperationFailure): string =>
  error._tag === "UnexpectedResult"
    ? error.message
    : `${error.code}${"path" in error && error.path !== undefined ? ` ${error.path}` : ""}: ${error.message}`

/** One concurrent actor of a phase run. */
export interface Worker {
  /** untimed work before each operation (e.g. moving on to a new file); a failure counts as an error */
  readonly prepare: Effect.Effect<void, OperationFailure>
  /** the timed operation; succeeds with the file bytes it moved */
  readonly operation: Effect.Effect<number, OperationFailure>
}

/** What a window has seen so far; progress reads it while the window runs. */
export class Tally {
  readonly samples = new LatencySamples()
  errors = 0
  bytes = 0
  firstError: string | undefined = undefined

  get ops(): number { return this.samples.count }

  succeeded(millis: number, bytes: number): void {
    this.samples.add(millis)
    this.bytes += bytes
  }

  failed(error: OperationFailure): void {
    this.errors++
    this.firstError ??= describeFailure(error)
  }
}

const NANOS_PER_MILLI = 1_000_000n

const elapsedMillis = (start: bigint, end: bigint): number =>
  Number((end - start) / NANOS_PER_MILLI) + Number((end - start) % NANOS_PER_MILLI) / 1e6

const loop = (worker: Worker, deadline: bigint, tally: Tally) =>
  Effect.gen(function*() {
    while ((yield* Clock.currentTimeNanos) < deadline) {
      const prepared = yield* Effect.either(worker.prepare)
      if (Either.isLeft(prepared)) {
        tally.failed(prepared.left)
        continue
      }
      const start = yield* Clock.currentTimeNanos
      const outcome = yield* Effect.either(worker.operation)
      const end = yield* Clock.currentTimeNanos
      if (Either.isRight(outcome)) tally.succeeded(elapsedMillis(start, end), outcome.right)
      else tally.failed(outcome.left)
    }
  })

/**
 * Runs every worker until `duration` has passed; an operation started before the deadline is
 * finished and counted. Resolves with the window's real length in seconds (start to the last
 * operation's end), the denominator of its rates.
 */
export const runWindow = (
  workers: ReadonlyArray<Worker>,
  duration: Duration.DurationInput,
  tally: Tally
): Effect.Effect<number> =>
  Effect.gen(function*() {
    const start = yield* Clock.currentTimeNanos
    const deadline = start + Duration.unsafeToNanos(Duration.decode(duration))
    yield* Effect.forEach(workers, (worker) => loop(worker, deadline, tally), { concurrency: "unbounded", discard: true })
    return elapsedMillis(start, yield* Clock.currentTimeNanos) / 1000
  })
