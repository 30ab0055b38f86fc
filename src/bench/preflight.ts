/**
 * The pre-flight check: before any phase, connect and make a tiny file in the run's directory,
 * write it, read it back and remove it. A cluster that cannot do that fails the bench at once
 * with the reason, and nothing else runs.
 */
import { Context, Data, Duration, Effect, Layer, type Scope } from "effect"
import { O_CREAT, O_EXCL, O_RDWR } from "../client/OpenFlags.ts"
import { SandstoreClient, type SandstoreClientShape } from "../client/SandstoreClient.ts"
import type { Communicator } from "../services/Communicator.ts"
import { describeFailure, type OperationFailure, UnexpectedResult } from "./measure.ts"

export class PreflightFailed extends Data.TaggedError("PreflightFailed")<{ readonly message: string }> {}

/** Long enough for a starting cluster to elect a leader, short enough to count as failing fast. */
export const PREFLIGHT_TIMEOUT = Duration.seconds(15)

/** A client of `seeds`, closed with the scope (open handles flushed). */
export const connectClient = (seeds: ReadonlyArray<string>) =>
  Effect.map(Layer.build(SandstoreClient.layer({ seeds })), (context) => Context.get(context, SandstoreClient))

/** create + write + read + remove of `${directory}/preflight` with `bytes`, on a connected client. */
const roundTrip = (client: SandstoreClientShape, directory: string, bytes: Uint8Array) =>
  Effect.gen(function*() {
    const path = `${directory}/preflight`
    yield* Effect.scoped(Effect.gen(function*() {
      const handle = yield* client.openScoped(path, O_CREAT | O_EXCL | O_RDWR)
      yield* handle.write(bytes)
      yield* handle.sync
      const back = yield* handle.read(bytes.length + 1, 0)
      if (Buffer.compare(back, bytes) !== 0) {
        return yield* new UnexpectedResult({ message: `${path}: read ${back.length} bytes that differ from the ${bytes.length} written` })
      }
      yield* handle.close
    }))
    yield* client.unlink(path)
  })

/**
 * Connects, has `ownDirectory` create `directory` (registering its removal) and checks a round
 * trip in it. Resolves with the connected client and what `ownDirectory` answered.
 */
export const preflight = <A, R>(options: {
  readonly seeds: ReadonlyArray<string>
  readonly directory: string
  readonly bytes: Uint8Array
  /** creates the directory (and whatever goes with owning it) */
  readonly ownDirectory: (client: SandstoreClientShape) => Effect.Effect<A, OperationFailure, R>
}): Effect.Effect<{ readonly client: SandstoreClientShape; readonly value: A }, PreflightFailed, Communicator | Scope.Scope | R> =>
  Effect.gen(function*() {
    const client = yield* connectClient(options.seeds)
    const value = yield* options.ownDirectory(client)
    yield* roundTrip(client, options.directory, options.bytes)
    return { client, value }
  }).pipe(
    Effect.timeoutFail({
      duration: PREFLIGHT_TIMEOUT,
      onTimeout: () => new UnexpectedResult({ message: `no answer within ${Duration.format(PREFLIGHT_TIMEOUT)}` })
    }),
    Effect.mapError((error) =>
      new PreflightFailed({
        message: `cannot reach a working cluster at ${options.seeds.join(",")}: ${describeFailure(error)}`
      })
    )
  )
