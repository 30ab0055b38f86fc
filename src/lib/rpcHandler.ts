/**
 * How a server runs the handler of one rpc, as @effect/rpc's RpcServer does: in a fiber of its
 * own, on the context, fiber refs (logger, log level) and flags of `serve`'s caller merged with
 * the handler's own context, interruptible (a client's Interrupt, a closed connection and
 * shutdown stop it) unless the handler is wrapped with `Rpc.uninterruptible`. A handler that
 * returns no Effect dies. Shared by the TCP server and the simulated network, so both run
 * handlers the same way.
 */
import { Rpc } from "@effect/rpc"
import * as Headers from "@effect/platform/Headers"
import { Context, Effect, type Fiber, Runtime, RuntimeFlags } from "effect"

/** Starts the handler of one request of a client connection. */
export type HandlerRunner = (payload: unknown, clientId: number) => Fiber.RuntimeFiber<unknown, unknown>

/** The runner of `rpc`'s handler in `served`'s context, or undefined when that context holds none. */
export const handlerRunner = (served: Runtime.Runtime<never>, rpc: Rpc.AnyWithProps): HandlerRunner | undefined => {
  const entry = served.context.unsafeMap.get(rpc.key) as Rpc.Handler<string> | undefined
  if (entry === undefined) return undefined
  // Interruptible on the runtime itself, whatever region `serve` ran in (a layer's build is
  // not): cheaper than an `Effect.interruptible` region around every request.
  const runFork = Runtime.runFork(Runtime.make({
    context: Context.merge(served.context, entry.context),
    fiberRefs: served.fiberRefs,
    runtimeFlags: RuntimeFlags.enable(served.runtimeFlags, RuntimeFlags.Interruption)
  }))
  return (payload, clientId) => {
    const result: unknown = entry.handler(payload, { clientId, headers: Headers.empty })
    const wrapper = typeof result === "object" && result !== null && Rpc.isWrapper(result) ? result : undefined
    const effect: unknown = wrapper === undefined ? result : wrapper.value
    if (!Effect.isEffect(effect)) return runFork(Effect.dieMessage(`the handler of ${rpc._tag} returned no Effect`))
    const body = effect as Effect.Effect<unknown, unknown>
    return runFork(wrapper?.uninterruptible === true ? Effect.uninterruptible(body) : body)
  }
}
