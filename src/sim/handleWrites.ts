/**
 * Writes as the workloads (the simulation's and `sandstore chaos`'s) issue them: through a file
 * handle, then a sync, each step bounded by a timeout. A writer that lost the reply can keep its
 * handle and sync again later: the handle resends the unacknowledged piece under its first
 * session request, which the cluster must answer with the first attempt's outcome, never by
 * applying the piece a second time.
 */
import { Duration, Effect } from "effect"
import type { SandstoreClientShape } from "../client/SandstoreClient.ts"
import { boundedBy } from "./timeout.ts"

/** Refusals that say an operation did not happen; any other error leaves its outcome unknown. */
export const DEFINITE_ERRORS: ReadonlySet<string> = new Set([
  "NotFound", "AlreadyExists", "NotEmpty", "NotADirectory", "IsADirectory", "InvalidArgument", "PermissionDenied"
])

export interface HandleWrite {
  readonly path: string
  readonly data: Uint8Array
  /** Where to write; none: at the end, with O_APPEND. */
  readonly offset?: number
  /** Bounds opening, the write with its sync, and the resend's sync, each. */
  readonly timeout: Duration.DurationInput
  /** After an unknown outcome, sync the same handle again this much later. */
  readonly resendAfterMillis?: number
}

export const writeThroughHandle = (client: SandstoreClientShape, write: HandleWrite) =>
  Effect.scoped(Effect.gen(function*() {
    const handle = yield* client.openScoped(write.path, write.offset === undefined ? "a" : "r+").pipe(boundedBy(write.timeout))
    const first = yield* Effect.zipRight(handle.write(write.data, write.offset), handle.sync).pipe(
      boundedBy(write.timeout),
      Effect.either
    )
    if (first._tag === "Right") return
    // A session that expired dropped the piece (its outcome cannot be learned): nothing to resend.
    if (write.resendAfterMillis === undefined || DEFINITE_ERRORS.has(first.left._tag) || first.left._tag === "SessionExpired") {
      return yield* Effect.fail(first.left)
    }
    yield* Effect.sleep(Duration.millis(write.resendAfterMillis))
    yield* handle.sync.pipe(boundedBy(write.timeout))
  }))
