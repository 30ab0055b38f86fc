/**
 * Static-list membership with a failure detector: the configured nodes, each probed with the
 * chunk API's Ping every `interval`; a node is alive while its last answer is more recent
 * than `suspectAfter`. This node is always alive. The default membership of a hyperconverged
 * cluster without etcd, so placement never picks a node that stopped answering.
 */
import { Clock, Duration, Effect, Layer, Schedule, SubscriptionRef } from "effect"
import type { NodeInfo } from "../../src/domain/cluster.ts"
import { InvalidArgument } from "../../src/domain/errors.ts"
import { ChunkApi } from "../../src/protocol/ChunkApi.ts"
import { ClusterService } from "../../src/services/ClusterService.ts"
import { Communicator } from "../../src/services/Communicator.ts"
import type { StaticMember } from "./static.ts"

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
      const start = yield* Clock.currentTimeMillis
      for (const m of options.members) lastHeard.set(m.id, start)

      const publish = Effect.gen(function*() {
        const now = yield* Clock.currentTimeMillis
        const next = options.members.map((m) =>
          nodeInfo(m, m.id === options.selfId || now - (lastHeard.get(m.id) ?? 0) <= suspectAfter)
        )
        const current = yield* SubscriptionRef.get(view)
        if (next.some((n, i) => n.alive !== current[i]?.alive)) yield* SubscriptionRef.set(view, next)
      })

      const probe = (member: StaticMember) =>
        Effect.gen(function*() {
          const api = yield* communicator.client(ChunkApi, member.address)
          const once = api.Ping().pipe(
            Effect.timeout(interval),
            Effect.flatMap(() => Clock.currentTimeMillis),
            Effect.tap((now) => Effect.sync(() => lastHeard.set(member.id, now))),
            Effect.ignore,
            Effect.zipRight(publish)
          )
          yield* Effect.repeat(once, Schedule.spaced(interval))
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

