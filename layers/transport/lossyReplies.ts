/**
 * A Communicator whose clients lose replies: now and then a call the server has carried out
 * fails as if the connection broke before the reply arrived (an RpcClientError, as a reset
 * gives), so the caller resends a request that already took effect. Servers are untouched.
 *
 * `sandstore chaos` gives it to its clients: every resend must be answered with the first
 * attempt's outcome (client sessions), never applied a second time. Which replies are lost is
 * drawn from the caller's `Random`. Calls sent with `discard` (no reply expected) and streaming
 * calls are left alone; groups with prefixed tags are not supported.
 */
import { type Rpc, RpcClientError, type RpcGroup, RpcSchema } from "@effect/rpc"
import { Cause, Effect, Exit, Layer, Option, Random } from "effect"
import { Communicator, type GroupClient } from "../../src/services/Communicator.ts"

export interface ReplyLoss {
  /** Wraps the Communicator in context: its clients lose replies at `rate`. */
  readonly layer: Layer.Layer<Communicator, never, Communicator>
  /** Replies lost so far. */
  readonly lost: () => number
}

const lostReply = (tag: string) =>
  new RpcClientError.RpcClientError({
    reason: "Protocol",
    message: `the connection broke before the reply to ${tag} arrived (a reply lost on purpose)`
  })

type Call = (payload: unknown, options?: unknown) => Effect.Effect<unknown, unknown>

/** The server answered: a value or a typed error it sent, not a broken connection or an interruption. */
const answered = (exit: Exit.Exit<unknown, unknown>): boolean =>
  Exit.isSuccess(exit) ||
  Option.exists(Cause.failureOption(exit.cause), (error) => !(error instanceof RpcClientError.RpcClientError))

/** Loses each reply with probability `rate` (0 to 1). */
export const makeReplyLoss = (rate: number): ReplyLoss => {
  let lost = 0
  /** `call`, whose outcome is replaced by a broken connection now and then; one that never had a reply stays as it is. */
  const lossy = (tag: string, call: Call): Call => (payload, options) =>
    (options as { readonly discard?: boolean } | undefined)?.discard === true ? call(payload, options) :
    Effect.flatMap(Effect.exit(call(payload, options)), (exit) => {
      if (rate <= 0 || !answered(exit)) return exit
      return Effect.flatMap(Random.next, (roll) => {
        if (roll >= rate) return exit
        lost++
        return Effect.fail(lostReply(tag))
      })
    })

  const layer = Layer.effect(
    Communicator,
    Effect.map(Communicator, (inner) =>
      Communicator.of({
        serve: inner.serve,
        client: <Rpcs extends Rpc.Any>(group: RpcGroup.RpcGroup<Rpcs>, address: string) =>
          Effect.map(inner.client(group, address), (client) => {
            const wrapped: Record<string, unknown> = { ...(client as object) }
            for (const [tag, rpc] of group.requests as unknown as ReadonlyMap<string, Rpc.AnyWithProps>) {
              if (tag.includes(".")) throw new Error(`lossy replies: prefixed tag ${tag} is not supported`)
              if (RpcSchema.isStreamSchema(rpc.successSchema)) continue
              const call = (client as unknown as Record<string, Call>)[tag]
              if (typeof call === "function") wrapped[tag] = lossy(tag, call)
            }
            return wrapped as unknown as GroupClient<Rpcs>
          })
      }))
  )
  return { layer, lost: () => lost }
}
