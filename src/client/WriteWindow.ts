/**
 * The pieces a file handle has sent and not yet heard back about: a bounded window of Writes in
 * flight at once, so a sequential writer keeps the cluster busy instead of waiting out each
 * piece's round trip (HDFS's output stream and GFS's client do the same).
 *
 * Each piece owns its bytes and a ticket of the client's session, taken in send order. It is
 * sent in a fiber of the client's scope, so a caller that stops waiting (a timeout around a
 * write or sync) does not cut it short. Its outcome is settled in one step when the fiber ends:
 * - answered: the ticket is released and `onAnswer` sees the file's attributes;
 * - the session expired: whether it applied cannot be learned, and resending it under a new
 *   session could apply it twice, so it is dropped;
 * - anything else (the reply was lost, the cluster was unreachable): its outcome is unknown, and
 *   it waits to be resent under the same ticket, which the node answers with the first outcome
 *   if the first copy applied.
 * Either failure is reported by the next call that sends or waits; the call after resends.
 *
 * Invariants, which keep the bytes applied in the order the handle wrote them:
 * - at most one piece per chunk is in flight or waiting to be resent (pieces never cross a chunk
 *   boundary), so two pieces that overlap are never racing each other;
 * - nothing new is sent while a piece waits to be resent: those go first, one at a time;
 * - `ordered` (O_APPEND, where the node places each piece at the end as of its commit): one
 *   piece in flight, so pieces land in the order written;
 * - the bytes in flight stay under `maxBytes`, except that one piece may always go.
 */
import { Cause, Effect, Exit, Fiber, Option, type Scope } from "effect"
import type { Attributes } from "../domain/fs.ts"
import type { ClientError } from "./errors.ts"
import type { Ticket } from "./ClientSession.ts"

/** Bytes a handle keeps in flight by default: four whole 8 MiB chunks. */
export const WRITE_WINDOW_BYTES = 32 * 1024 * 1024

export interface WriteWindowOptions {
  /** One Write of `data` at `offset` under `ticket`. */
  readonly send: (offset: number, data: Uint8Array, ticket: Ticket) => Effect.Effect<Attributes, ClientError>
  /** A new ticket of the client's session. */
  readonly ticket: Effect.Effect<Ticket, ClientError>
  readonly chunkSize: number
  /** Bytes in flight at once (at least one piece goes whatever its size). */
  readonly maxBytes: number
  /** One piece in flight at a time, each sent after the one before is answered (O_APPEND). */
  readonly ordered?: boolean
  /** Where the pieces' fibers run: the client's scope, which outlives any one call. */
  readonly scope: Scope.Scope
  /** A piece was answered with the file's attributes after it. */
  readonly onAnswer: (attributes: Attributes) => void
}

interface Piece {
  readonly offset: number
  readonly data: Uint8Array
  readonly ticket: Ticket
}

interface Sending extends Piece {
  readonly chunk: number
  /** set once forked; its end (even by interruption) takes the piece out of the window */
  fiber: Fiber.RuntimeFiber<Exit.Exit<Attributes, ClientError>> | null
}

export interface WriteWindow {
  /** No piece in flight nor waiting to be resent, and no unreported loss. */
  readonly isIdle: () => boolean
  /**
   * Sends `data` (which the window now owns) at `offset` in the background, once there is room
   * and the piece before it in the same chunk is settled. Fails, sending nothing, if a piece
   * waiting to be resent cannot be, or one failed since a caller last heard (see settleFailures).
   * `onLaunched` runs in the same uninterruptible step that hands the piece over.
   */
  readonly launch: (offset: number, data: Uint8Array, onLaunched?: () => void) => Effect.Effect<void, ClientError>
  /** Resolves when every piece launched so far is answered; fails as `launch` does. */
  readonly drain: Effect.Effect<void, ClientError>
}

export const makeWriteWindow = (options: WriteWindowOptions): WriteWindow => {
  const { chunkSize, maxBytes } = options
  const inFlight: Array<Sending> = []
  /** Pieces whose outcome is unknown, in the order they were first sent. */
  const unanswered: Array<Piece> = []
  /** Why a piece was dropped (its bytes are not written), not yet told to a caller. */
  let dropped: ClientError | null = null
  /** Why a piece now waiting to be resent failed, not yet told to a caller. */
  let unreported: ClientError | null = null

  const bytesInFlight = () => inFlight.reduce((sum, piece) => sum + piece.data.length, 0)

  /** A background send ended: answered, dropped with its session, or waiting to be resent. */
  const settle = (piece: Piece, exit: Exit.Exit<Attributes, ClientError>) => {
    if (Exit.isSuccess(exit)) {
      piece.ticket.release()
      options.onAnswer(exit.value)
      return
    }
    const error = failureOf(exit)
    if (error !== null && isFinal(error)) {
      piece.ticket.release()
      dropped ??= error
      return
    }
    // Unknown (or interrupted with the client): resent under its ticket by a later call.
    unanswered.push(piece)
    if (error !== null) unreported ??= error
  }

  /** Answers, or fails with, the pieces waiting to be resent, oldest first, one at a time. */
  const resendUnanswered: Effect.Effect<void, ClientError> = Effect.suspend(() => {
    const piece = unanswered[0]
    if (piece === undefined) return Effect.void
    return options.send(piece.offset, piece.data, piece.ticket).pipe(
      Effect.onExit((exit) => Effect.sync(() => {
        // Still unknown: it stays first in line (a copy may yet be on its way; the ticket covers it).
        const error = failureOf(exit)
        if (Exit.isFailure(exit) && (error === null || !isFinal(error))) return
        // Answered, or dropped (this call fails with that error).
        unanswered.shift()
        piece.ticket.release()
        if (Exit.isSuccess(exit)) options.onAnswer(exit.value)
      })),
      Effect.zipRight(resendUnanswered)
    )
  })

  /**
   * Fails (once) with why a background piece failed since a caller last heard, a dropped one's
   * first; else resends what waits to be resent. So the call that meets a failure reports it,
   * and the next one retries.
   */
  const settleFailures = Effect.suspend(() => {
    if (dropped !== null) {
      const error = dropped
      dropped = null
      return Effect.fail(error)
    }
    if (unreported !== null) {
      const error = unreported
      unreported = null
      return Effect.fail(error)
    }
    return resendUnanswered
  })

  const awaitPiece = (piece: Sending) => (piece.fiber === null ? Effect.yieldNow() : Effect.asVoid(Fiber.await(piece.fiber)))

  const launch = (offset: number, data: Uint8Array, onLaunched: () => void = () => {}): Effect.Effect<void, ClientError> =>
    Effect.gen(function*() {
      const chunk = Math.floor(offset / chunkSize)
      for (;;) {
        yield* settleFailures
        const sameChunk = options.ordered ? inFlight[0] : inFlight.find((piece) => piece.chunk === chunk)
        if (sameChunk !== undefined) {
          yield* awaitPiece(sameChunk)
          continue
        }
        if (inFlight.length > 0 && bytesInFlight() + data.length > maxBytes) {
          yield* awaitPiece(inFlight[0]!)
          continue
        }
        break
      }
      // The ticket is taken in send order; from then on the piece is the window's, whatever interrupts the caller.
      yield* Effect.uninterruptibleMask((restore) =>
        Effect.flatMap(restore(options.ticket), (ticket) => {
          const sending: Sending = { offset, data, ticket, chunk, fiber: null }
          inFlight.push(sending)
          onLaunched()
          const settled = (exit: Exit.Exit<Attributes, ClientError>) =>
            Effect.sync(() => {
              inFlight.splice(inFlight.indexOf(sending), 1)
              settle(sending, exit)
            })
          return Effect.map(
            // Interruptible (the mask is not inherited), so closing the client's scope stops it; `settled` runs however it ends.
            Effect.forkIn(Effect.exit(Effect.onExit(Effect.interruptible(options.send(offset, data, ticket)), settled)), options.scope),
            (fiber) => {
              sending.fiber = fiber
            }
          )
        }))
    })

  const drain: Effect.Effect<void, ClientError> = Effect.gen(function*() {
    while (inFlight.length > 0) yield* awaitPiece(inFlight[0]!)
    yield* settleFailures
  })

  return {
    isIdle: () => inFlight.length === 0 && unanswered.length === 0 && unreported === null && dropped === null,
    launch,
    drain
  }
}

const failureOf = (exit: Exit.Exit<unknown, ClientError>): ClientError | null =>
  Exit.isFailure(exit) ? Option.getOrNull(Cause.failureOption(exit.cause)) : null

/**
 * The failure after which the piece is dropped and its error reported: the session expired
 * (whether it applied cannot be learned, and a resend under a new session could apply it twice).
 * After any other the handle keeps the bytes and a later call resends them, as documented for a
 * handle whose file was removed: its sync and close keep failing with ENOENT (the smoke checks it).
 */
const isFinal = (error: ClientError) => error._tag === "SessionExpired"
