/**
 * What the nodes of a cluster say about it: each seed is asked for its Topology over a
 * connection of its own (not through the SDK's router, which talks to one node only), all at
 * once, each with a short timeout, so one dead node neither hides the others nor stalls the
 * answer; then a verdict: healthy when some node answered and exactly one node leads. Used by
 * `sandstore status`, chaos, the benchmarks and the tests.
 */
import { Effect } from "effect"
import type { Topology } from "../domain/cluster.ts"
import { Timeout } from "../domain/errors.ts"
import { ClientApi } from "../protocol/ClientApi.ts"
import { Communicator } from "../services/Communicator.ts"
import { unreachable } from "./errors.ts"

/** A seed that does not answer within this is reported unreachable. */
const ANSWER_TIMEOUT = "3 seconds"

export type SeedAnswer =
  | { readonly _tag: "Answered"; readonly seed: string; readonly topology: Topology }
  | { readonly _tag: "Unreachable"; readonly seed: string; readonly reason: string }

/** The Topology of the node at `seed`, or why there is none. */
export const askSeed = (seed: string): Effect.Effect<SeedAnswer, never, Communicator> =>
  Effect.gen(function*() {
    const communicator = yield* Communicator
    const api = yield* communicator.client(ClientApi, seed)
    return yield* api.Topology({}).pipe(
      Effect.timeoutFail({ duration: ANSWER_TIMEOUT, onTimeout: () => new Timeout({ message: `no answer within ${ANSWER_TIMEOUT}` }) })
    )
  }).pipe(
    Effect.scoped,
    Effect.map((topology): SeedAnswer => ({ _tag: "Answered", seed, topology })),
    Effect.catchAll((error) => {
      const reason = error._tag === "RpcClientError" ? unreachable(seed, error).message : `${error.code}: ${error.message}`
      return Effect.succeed<SeedAnswer>({ _tag: "Unreachable", seed, reason })
    })
  )

/**
 * Ask every seed, then every member the answers name that was not asked yet, so one seed is
 * enough to see the whole cluster.
 */
export const askSeeds = (seeds: ReadonlyArray<string>): Effect.Effect<ReadonlyArray<SeedAnswer>, never, Communicator> =>
  Effect.gen(function*() {
    const answers = [...yield* Effect.forEach(seeds, askSeed, { concurrency: "unbounded" })]
    const asked = new Set(seeds)
    const members = answers.flatMap((answer) => (answer._tag === "Answered" ? answer.topology.members : []))
    const more = [...new Set(members.map((m) => m.address))].filter((address) => !asked.has(address))
    answers.push(...yield* Effect.forEach(more, askSeed, { concurrency: "unbounded" }))
    return answers
  })

export type Verdict =
  | { readonly healthy: true; readonly leaderId: string }
  | { readonly healthy: false; readonly reason: string }

const leads = (topology: Topology) => topology.self.replicator.role === "leader" || topology.self.replicator.role === "standalone"

/**
 * Healthy when a node answered and exactly one node reports role leader or standalone. Nodes are
 * counted once however many seeds name them.
 */
export const verdict = (answers: ReadonlyArray<SeedAnswer>): Verdict => {
  const nodes = new Map<string, Topology>()
  for (const answer of answers) {
    if (answer._tag === "Answered") nodes.set(answer.topology.self.node.id, answer.topology)
  }
  if (answers.length === 0) return { healthy: false, reason: "no seed addresses given" }
  if (nodes.size === 0) {
    return { healthy: false, reason: `no node reachable among ${answers.map((answer) => answer.seed).join(",")}` }
  }
  const leaders = [...nodes.values()].filter(leads).map((topology) => topology.self.replicator)
  if (leaders.length === 1) return { healthy: true, leaderId: leaders[0]!.nodeId }
  if (leaders.length === 0) return { healthy: false, reason: `no leader among ${nodes.size} reachable node(s)` }
  const terms = new Map<number, Array<string>>()
  for (const leader of leaders) terms.set(leader.term, [...(terms.get(leader.term) ?? []), leader.nodeId])
  const sameTerm = [...terms.entries()].find(([, ids]) => ids.length > 1)
  return sameTerm !== undefined
    ? { healthy: false, reason: `two leaders in the same term ${sameTerm[0]}: ${sameTerm[1].join(", ")}` }
    : { healthy: false, reason: `${leaders.length} nodes claim leadership: ${leaders.map((l) => `${l.nodeId} (term ${l.term})`).join(", ")}` }
}
