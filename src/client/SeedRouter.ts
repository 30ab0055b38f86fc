/**
 * The seed router: sends everything to the first seed that answers, in the order given. A node
 * that stops answering is dropped and the seeds are probed again; a NotLeader hint moves the
 * client to the named leader. Every connection lives in its own scope, closed when dropped.
 */
import { Effect, ExecutionStrategy, Exit, Layer, Option, Schedule, Scope, SynchronizedRef } from "effect"
import { Unavailable } from "../domain/errors.ts"
import { ClientApi } from "../protocol/ClientApi.ts"
import { unreachable } from "./errors.ts"
import { Communicator } from "../services/Communicator.ts"
import { type Connection, NodeRouter, type NodeRouterShape } from "./NodeRouter.ts"

export interface SeedRouterOptions {
  /** host:port of nodes to try, in order */
  readonly seeds: ReadonlyArray<string>
}

/** A node that does not answer FsInfo within this time counts as unreachable. */
const PROBE_TIMEOUT = "3 seconds"

/** Rounds over all seeds before giving up: a node that is just starting gets a moment. */
const probeRounds = Schedule.exponential("200 millis").pipe(Schedule.jittered, Schedule.intersect(Schedule.recurs(3)))

interface Held {
  readonly connection: Connection
  readonly scope: Scope.CloseableScope
}

export const make = (options: SeedRouterOptions): Effect.Effect<NodeRouterShape, Unavailable, Communicator | Scope.Scope> =>
  Effect.gen(function*() {
    const seeds = options.seeds.map((seed) => seed.trim()).filter((seed) => seed !== "")
    if (seeds.length === 0) return yield* new Unavailable({ message: "no seed addresses given" })
    const communicator = yield* Communicator
    const routerScope = yield* Effect.scope
    const held = yield* SynchronizedRef.make(Option.none<Held>())

    const probe = (address: string): Effect.Effect<Held, Unavailable> =>
      Effect.gen(function*() {
        const scope = yield* Scope.fork(routerScope, ExecutionStrategy.sequential)
        return yield* Effect.gen(function*() {
          const api = yield* communicator.client(ClientApi, address)
          const info = yield* api.FsInfo({}).pipe(
            Effect.timeoutFail({
              duration: PROBE_TIMEOUT,
              onTimeout: () => new Unavailable({ message: `${address} did not answer within ${PROBE_TIMEOUT}` })
            })
          )
          return { connection: { address, api, info }, scope }
        }).pipe(
          Scope.extend(scope),
          Effect.onError(() => Scope.close(scope, Exit.void)),
          Effect.mapError((error) =>
            error._tag === "RpcClientError"
              ? unreachable(address, error)
              : error._tag === "Unavailable"
              ? error
              : new Unavailable({ message: `${address}: ${error.message}` })
          )
        )
      })

    /** The first seed that answers, trying them in order from the `start`th. */
    const probeSeedsFrom = (start: number) =>
      Effect.firstSuccessOf(seeds.map((_, k) => probe(seeds[(start + k) % seeds.length]!))).pipe(
        Effect.retry(probeRounds),
        Effect.mapError((last) =>
          new Unavailable({ message: `no reachable node among seeds ${seeds.join(",")} (last: ${last.message})` })
        )
      )
    const probeSeeds = probeSeedsFrom(0)

    /** The connection `held` holds, readable without taking its lock: every request asks for it. */
    let settled: Connection | undefined
    const hold = (state: Option.Option<Held>) => {
      settled = Option.isSome(state) ? state.value.connection : undefined
      return state
    }

    const drop = (current: Held) => Scope.close(current.scope, Exit.void).pipe(Effect.map(() => hold(Option.none<Held>())))

    const connectOrWait = SynchronizedRef.modifyEffect(held, (state) =>
      Option.match(state, {
        onSome: (current) => Effect.succeed([current.connection, state] as const),
        onNone: () => probeSeeds.pipe(Effect.map((fresh) => [fresh.connection, hold(Option.some(fresh))] as const))
      }))

    const router: NodeRouterShape = {
      current: Effect.suspend(() => (settled === undefined ? connectOrWait : Effect.succeed(settled))),
      reportUnreachable: (connection) =>
        SynchronizedRef.updateEffect(held, (state) =>
          Option.isSome(state) && state.value.connection === connection ? drop(state.value) : Effect.succeed(state)),
      redirect: (connection, hint) =>
        SynchronizedRef.updateEffect(held, (state) => {
          if (Option.isNone(state) || state.value.connection !== connection) return Effect.succeed(state)
          const previous = state.value
          // Without a hint this node knows no leader (an election, or it stopped leading because
          // its disk stalled): try the other seeds, starting after this one.
          if (hint.address === null) {
            const at = seeds.indexOf(connection.address)
            return drop(previous).pipe(
              Effect.zipRight(probeSeedsFrom(at + 1)),
              Effect.map((next) => hold(Option.some(next))),
              Effect.orElseSucceed(() => hold(Option.none<Held>()))
            )
          }
          if (hint.address === connection.address) return Effect.succeed(state)
          return probe(hint.address).pipe(
            Effect.matchEffect({
              onSuccess: (leader) => drop(previous).pipe(Effect.map(() => hold(Option.some(leader)))),
              onFailure: () => drop(previous)
            })
          )
        })
    }
    yield* router.current
    return router
  })

export const layer = (options: SeedRouterOptions): Layer.Layer<NodeRouter, Unavailable, Communicator> =>
  Layer.scoped(NodeRouter, make(options))
