/**
 * ChunkPeers over the network: this node's own ChunkService for itself, the ChunkApi through
 * the Communicator for every other node (one connection per peer, opened on first use and
 * kept for the layer's lifetime). A peer that cannot be reached is `Unavailable`; one that
 * does not answer within the call timeout is `Timeout`. `ChunkApiHandlers` serves this node's
 * ChunkService to the others.
 */
import { type RpcClientError } from "@effect/rpc"
import { Duration, Effect, Layer, Scope, SynchronizedRef } from "effect"
import { Timeout, Unavailable } from "../../src/domain/errors.ts"
import { ChunkApi } from "../../src/protocol/ChunkApi.ts"
import { Admission } from "../../src/services/Admission.ts"
import { ChunkPeers, type PeerChunkStore } from "../../src/services/ChunkPeers.ts"
import { ChunkService } from "../../src/services/ChunkService.ts"
import { ClusterService } from "../../src/services/ClusterService.ts"
import { Communicator, withCallOptions } from "../../src/services/Communicator.ts"
import { EndpointResolver } from "../../src/services/EndpointResolver.ts"

export interface RpcChunkPeersOptions {
  /** Bound on one call; a chunk transfer of 8 MiB over loopback takes milliseconds. */
  readonly callTimeout?: Duration.DurationInput
}

export const RpcChunkPeers = (options: RpcChunkPeersOptions = {}) =>
  Layer.scoped(
    ChunkPeers,
    Effect.gen(function*() {
      const local = yield* ChunkService
      const cluster = yield* ClusterService
      const endpoints = yield* EndpointResolver
      const communicator = yield* Communicator
      const scope = yield* Effect.scope
      const timeoutMillis = Duration.toMillis(Duration.decode(options.callTimeout ?? "30 seconds"))
      const stores = yield* SynchronizedRef.make(new Map<string, PeerChunkStore>())
      /** The peers connected so far, read without the lock: the lock only serializes connecting. */
      let connected: ReadonlyMap<string, PeerChunkStore> = new Map()

      const connect = (address: string) =>
        Effect.gen(function*() {
          const api = yield* communicator.client(ChunkApi, address)
          // A silent peer becomes Timeout by the transport's own bound on the call (the server
          // is told to stop), not by a race of two fibers per call.
          const bounded = { timeoutMillis, onTimeout: () => new Timeout({ message: `chunk peer ${address} did not answer` }) }
          // Staging is what a write waits on, and the writer stages its own copy right after
          // asking the peers for theirs: their requests leave at once, not at the end of the
          // turn (coalescedWrites.ts), so the peers' disks work while the local copy is written.
          const urgent = { ...bounded, urgent: true }
          /** `method` bounded by the call timeout; transport failures become Unavailable. */
          const call = <P, A, E>(
            method: (payload: P, options?: never) => Effect.Effect<A, E | RpcClientError.RpcClientError>,
            options: { readonly urgent?: boolean } = {}
          ) => {
            const send = withCallOptions(method, options.urgent === true ? urgent : bounded)
            return (payload: P) =>
              Effect.catchTag(send(payload), "RpcClientError", (e) =>
                Effect.fail(new Unavailable({ message: `chunk peer ${address}: ${(e as RpcClientError.RpcClientError).message}` })))
          }
          const stageChunk = call(api.StageChunk, { urgent: true })
          const stagePatch = call(api.StagePatch, { urgent: true })
          const repairChunk = call(api.RepairChunk)
          const commitChunks = call(api.CommitChunks)
          const abortChunk = call(api.AbortChunk)
          const removeChunks = call(api.RemoveChunks)
          const readChunk = call(api.ReadChunk)
          const list = call(api.ListChunks)(undefined as void)
          const store: PeerChunkStore = {
            stage: (versionId, data, checksum) => stageChunk({ versionId, data, checksum }),
            stagePatch: (versionId, patch) => stagePatch({ versionId, ...patch }),
            repair: (versionId, data, checksum) => repairChunk({ versionId, data, checksum }),
            commit: (versionIds) => commitChunks({ versionIds }),
            abort: (versionId) => abortChunk({ versionId }),
            remove: (versionIds) => removeChunks({ versionIds }),
            read: (versionId, offset, length) => readChunk({ versionId, offset, length }),
            list
          }
          return store
        }).pipe(Scope.extend(scope))

      return ChunkPeers.of({
        selfId: cluster.self.id,
        forNode: (node) => {
          const id = typeof node === "string" ? node : node.id
          if (id === cluster.self.id) return Effect.succeed(local)
          const known = connected.get(id)
          if (known !== undefined) return Effect.succeed(known)
          return SynchronizedRef.modifyEffect(stores, (map) => {
            const known = map.get(id)
            if (known) return Effect.succeed([known, map] as const)
            return endpoints.resolve(id).pipe(
              Effect.mapError((e) => new Unavailable({ message: `chunk peer ${id}: ${e.message}` })),
              Effect.flatMap(connect),
              Effect.map((store) => {
                const next = new Map(map).set(id, store)
                connected = next
                return [store, next] as const
              })
            )
          })
        }
      })
    })
  )

/**
 * Serves this node's ChunkService to its peers. Transfers (staging and reading bytes) are
 * admitted like client requests: a node flooded with them answers Busy, which reaches the
 * client whose write or read caused them, and it retries later.
 */
export const ChunkApiHandlers = ChunkApi.toLayer(
  Effect.gen(function*() {
    const chunks = yield* ChunkService
    const cluster = yield* ClusterService
    const admission = yield* Admission
    return {
      Ping: () => Effect.succeed({ nodeId: cluster.self.id }),
      StageChunk: ({ checksum, data, versionId }, { clientId }) =>
        admission.admit(clientId, data.length, chunks.stage(versionId, data, checksum)),
      StagePatch: ({ versionId, ...patch }, { clientId }) => admission.admit(clientId, patch.data.length, chunks.stagePatch(versionId, patch)),
      RepairChunk: ({ checksum, data, versionId }, { clientId }) => admission.admit(clientId, data.length, chunks.repair(versionId, data, checksum)),
      CommitChunks: ({ versionIds }) => chunks.commit(versionIds),
      AbortChunk: ({ versionId }) => chunks.abort(versionId),
      RemoveChunks: ({ versionIds }) => chunks.remove(versionIds),
      ReadChunk: ({ length, offset, versionId }, { clientId }) =>
        admission.admit(clientId, length, chunks.read(versionId, offset, length)),
      ListChunks: () => chunks.list
    }
  })
)
