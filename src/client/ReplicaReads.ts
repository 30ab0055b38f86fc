/**
 * Reads whose bytes come from a replica, not inside the leader's answer: the leader only plans
 * (PlanRead: the file's size and which chunk versions hold the range, on which nodes, as of a
 * linearizable read), and each version's bytes are fetched from one of the nodes holding it
 * (ReadVersion): the nearest first, which is the node the client already talks to when it holds
 * the chunk (measured here: spreading one reader's chunks over all replicas cost the servers
 * 30-60% more CPU per byte than reading them where the plan came from), failing over to the
 * others on any error or on bytes that fail the version's checksum. A version that no replica
 * holds any more was replaced (and collected) after the plan: the read plans again.
 *
 * Chunk versions are immutable, so bytes fetched for a plan stay right for as long as a fresh
 * plan names the same versions: that is what lets a handle read ahead (see FileHandle).
 */
import { Effect } from "effect"
import { Conflict, Corruption, type SandstoreError, Timeout, Unavailable } from "../domain/errors.ts"
import type { Attributes, ChunkRef, InodeId } from "../domain/fs.ts"
import { crc32c } from "../lib/crc32c.ts"
import { plannedBytes } from "../lib/plannedBytes.ts"
import { withCallOptions } from "../services/Communicator.ts"
import type { Invoker } from "./Invoker.ts"
import type { ApiClient } from "./NodeRouter.ts"

export interface ReadPlan {
  readonly attributes: Attributes
  readonly chunkSize: number
  readonly chunks: ReadonlyArray<ChunkRef>
}

/** A client of the node at an address (kept for the client's life; it reconnects by itself). */
export type NodeAt = (address: string) => Effect.Effect<ApiClient>

/** Bytes of a range and the plan they were fetched by. */
export interface PlannedBytes {
  readonly plan: ReadPlan
  readonly data: Uint8Array
}

export interface ReplicaReads {
  /** Where the bytes of [offset, offset + length) are, as of now (linearizable). */
  readonly plan: (inode: InodeId, offset: number, length: number) => Effect.Effect<ReadPlan, SandstoreError>
  /** The bytes `plan` says the file holds in [offset, offset + length): holes as zeros, short at its end. */
  readonly fetch: (plan: ReadPlan, offset: number, length: number) => Effect.Effect<Uint8Array, SandstoreError>
  /** `plan` then `fetch`, planning again (a few times) when a version was replaced meanwhile. */
  readonly read: (inode: InodeId, offset: number, length: number) => Effect.Effect<PlannedBytes, SandstoreError>
}

/** Whether two plans name the same size and the same versions: then their bytes are the same. */
export const samePlan = (a: ReadPlan, b: ReadPlan): boolean =>
  a.attributes.size === b.attributes.size && a.chunks.length === b.chunks.length &&
  a.chunks.every((chunk, i) => {
    const other = b.chunks[i]!
    return chunk.index === other.index && chunk.versionId === other.versionId && chunk.length === other.length
  })

/** Plans made again, at most, when a version keeps being replaced under a read. */
const REPLANS = 8

export const makeReplicaReads = (options: {
  readonly invoker: Invoker
  readonly nodeAt: NodeAt
  /** Bound on one ReadVersion call. */
  readonly attemptMillis: number
}): ReplicaReads => {
  const { invoker, nodeAt } = options
  /** Node id → address, from the cluster's topology; asked again when a plan names a node not in it. */
  let addresses = new Map<string, string>()
  /** The node the client's requests go to (its id as of the last topology asked), read from first. */
  let nearest: string | undefined
  const addressOf = (id: string) =>
    Effect.suspend(() => {
      const known = addresses.get(id)
      if (known !== undefined) return Effect.succeed<string | undefined>(known)
      return Effect.map(Effect.zip(invoker.query((api) => api.Topology({})), invoker.connection), ([topology, connection]) => {
        addresses = new Map(topology.members.map((member) => [member.id, member.address]))
        // The node that answered is reached where the client reaches it (a node listening on port 0 names that).
        addresses.set(topology.self.node.id, connection.address)
        nearest = topology.self.node.id
        return addresses.get(id)
      })
    })

  /** `length` bytes at `offset` of `chunk` from `node`, checked against the checksum when they are the whole version. */
  const fromNode = (chunk: ChunkRef, node: string, offset: number, length: number) =>
    Effect.gen(function*() {
      const address = yield* addressOf(node)
      if (address === undefined) return yield* new Unavailable({ message: `node ${node} is not a member of the cluster` })
      const api = yield* nodeAt(address)
      const call = withCallOptions(api.ReadVersion, {
        timeoutMillis: options.attemptMillis,
        onTimeout: () => new Timeout({ message: `${address} did not answer within ${options.attemptMillis} ms` })
      })
      const bytes = yield* call({ versionId: chunk.versionId, offset, length }).pipe(
        Effect.catchTag("RpcClientError", (error) => Effect.fail(new Unavailable({ message: `cannot reach ${address}: ${error.message}` })))
      )
      if (bytes.length !== length) {
        return yield* new Unavailable({ message: `${address} returned ${bytes.length} of ${length} bytes of chunk version ${chunk.versionId}` })
      }
      if (offset === 0 && length === chunk.storedLength && crc32c(bytes) !== chunk.checksum) {
        return yield* new Corruption({ message: `${address} returned bytes of chunk version ${chunk.versionId} that fail its checksum` })
      }
      return bytes
    })

  /**
   * From the first of the chunk's nodes that answers: the nearest (the node the client talks to)
   * if it holds the chunk, then the others, starting at a different one for each chunk index.
   * NotFound everywhere: the version was replaced since the plan (Conflict: plan again).
   */
  const fetchChunk = (chunk: ChunkRef, offset: number, length: number) => {
    const n = chunk.nodes.length
    if (n === 0) return Effect.fail(new Unavailable({ message: `chunk version ${chunk.versionId} has no replicas` }))
    const rotated = chunk.nodes.map((_, k) => chunk.nodes[(chunk.index + k) % n]!)
    const order = nearest !== undefined && rotated.includes(nearest) ? [nearest, ...rotated.filter((id) => id !== nearest)] : rotated
    let found = false
    return Effect.firstSuccessOf(order.map((node) =>
      fromNode(chunk, node, offset, length).pipe(Effect.tapError((error) => Effect.sync(() => {
        if (error._tag !== "NotFound") found = true
      })))
    )).pipe(
      Effect.catchAll((error) =>
        found ? Effect.fail(error) : Effect.fail(new Conflict({ message: `chunk version ${chunk.versionId} was replaced while in use` })))
    )
  }

  const fetch = (plan: ReadPlan, offset: number, length: number) => plannedBytes(plan, offset, length, fetchChunk, "unbounded")

  const plan = (inode: InodeId, offset: number, length: number) =>
    invoker.query((api) => api.PlanRead({ inode, offset, length }))

  const read = (inode: InodeId, offset: number, length: number): Effect.Effect<PlannedBytes, SandstoreError> => {
    const attempt = (n: number): Effect.Effect<PlannedBytes, SandstoreError> =>
      Effect.flatMap(plan(inode, offset, length), (planned) => Effect.map(fetch(planned, offset, length), (data) => ({ plan: planned, data }))).pipe(
        Effect.catchIf((error) => error._tag === "Conflict" && n < REPLANS, () => attempt(n + 1))
      )
    return attempt(0)
  }

  return { plan, fetch, read }
}
