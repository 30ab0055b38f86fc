/**
 * Static-list membership with a failure detector: the configured nodes, each probed with the
 * chunk API's Ping every `interval`; a node is alive while its last answer is more recent
 * than `suspectAfter`. This node is always alive. The default membership of a hyperconverged
 * cluster without etcd, so placement never picks a node that stopped answering.
 */
import { Duration, Effect, Layer, SubscriptionRef } from "effect"
import type { NodeInfo } from "../../src/domain/cluster.ts"
import { InvalidArgument } from "../../src/domain/errors.ts"
import { ChunkApi } from "../../src/protocol/ChunkApi.ts"
import { ClusterService } from "../../src/services/ClusterService.ts"
import { Communicator, withCallOptions } from "../../src/services/Communicator.ts"
import type { StaticMember } from "./static.ts"

/** A probe that got no answer within the interval. */
class ProbeTimedOut {
  readonly _tag = "ProbeTimedOut"
}

export interface ProbingOptions {
  readonly selfId: string
  readonly members: ReadonlyArray<StaticMember>
  readonly interval?: Duration.DurationInput
  readonly suspectAfter?: Duration.DurationInput
}

export const ProbingClusterService = (options: ProbingOptions) =>
  Layer.scoped(
    ClusterService,
    Effect.gen(function*() {
      const selfMember = options.members.find((m) => m.id === options.selfId)
      if (!selfMember) {
        return yield* Effect.fail(new InvalidArgument({ message: `node ${options.selfId} is not among the cluster's members` }))
      }
      const communicator = yield* Communicator
      const interval = Duration.decode(options.interval ?? "500 millis")
      const suspectAfter = Duration.toMillis(options.suspectAfter ?? "2 seconds")
      const nodeInfo = (m: StaticMember, alive: boolean): NodeInfo => ({ id: m.id, address: m.address, role: "hyperconverged", alive })
      const view = yield* SubscriptionRef.make<ReadonlyArray<NodeInfo>>(options.members.map((m) => nodeInfo(m, true)))
      const lastHeard = new Map<string, number>()
      const clock = yield* Effect.clock
      const start = clock.unsafeCurrentTimeMillis()
      for (const m of options.members) lastHeard.set(m.id, start)

      /**
       * Publish when someone's liveness flipped, compared with the view itself (not with what this
       * fiber last published): two probes racing to publish correct each other next round.
       */
      const publish = Effect.flatMap(SubscriptionRef.get(view), (current) => {
        const now = clock.unsafeCurrentTimeMillis()
        const alive = options.members.map((m) => m.id === options.selfId || now - (lastHeard.get(m.id) ?? 0) <= suspectAfter)
        if (alive.every((a, i) => a === current[i]?.alive)) return Effect.void
        return SubscriptionRef.set(view, options.members.map((m, i) => nodeInfo(m, alive[i]!)))
      })

      /** A Ping bounded by the interval in the transport (no race of fibers per probe), then a pause. */
      const probe = (member: StaticMember) =>
        Effect.gen(function*() {
          const api = yield* communicator.client(ChunkApi, member.address)
          const heard = Effect.sync(() => lastHeard.set(member.id, clock.unsafeCurrentTimeMillis()))
          const ping = withCallOptions(api.Ping, { timeoutMillis: Duration.toMillis(interval), onTimeout: () => new ProbeTimedOut() })
          const once = ping(undefined).pipe(
            Effect.zipRight(heard),
            Effect.ignore,
            Effect.zipRight(publish),
            Effect.zipRight(Effect.sleep(interval))
          )
          return yield* Effect.forever(once)
        }).pipe(Effect.scoped)

      yield* Effect.forEach(
        options.members.filter((m) => m.id !== options.selfId),
        (member) => Effect.forkScoped(probe(member)),
        { discard: true }
      )
      const self = nodeInfo(selfMember, true)
      return ClusterService.of({
        self,
        members: SubscriptionRef.get(view),
        changes: view.changes
      })
    })
  )

