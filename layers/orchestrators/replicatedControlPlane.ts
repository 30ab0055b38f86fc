/**
 * The Raft-backed control plane. Every mutation becomes a MetadataCommand stamped with the
 * time from `Clock` and goes through the MetadataReplicator; every read runs through
 * `linearizable`, so it reflects every write acknowledged before it began. It also plans
 * writes: the chunks a byte range touches, their current versions, fresh version ids (from
 * `Random`) and live placement targets.
 */
import { Clock, Effect, Layer } from "effect"
import { type MetadataCommand, type RequestTag, SESSION_TIMEOUT_MILLIS } from "../../src/domain/commands.ts"
import { InvalidArgument } from "../../src/domain/errors.ts"
import { MAX_NAME_BYTES, type Attributes, type InodeId } from "../../src/domain/fs.ts"
import { formatVersionId } from "../../src/domain/versionId.ts"
import { randomHex } from "../../src/lib/ids.ts"
import { ClusterService } from "../../src/services/ClusterService.ts"
import {
  ControlPlaneOrchestrator, type PlannedChunk, type ReadPlan
} from "../../src/services/ControlPlaneOrchestrator.ts"
import { EndpointResolver } from "../../src/services/EndpointResolver.ts"
import { MetadataReplicator } from "../../src/services/MetadataReplicator.ts"
import { type FileLayout, MetadataService } from "../../src/services/MetadataService.ts"
import { PlacementStrategy } from "../../src/services/PlacementStrategy.ts"

/** 2^50 bytes (1 PiB): keeps every offset an exact integer in a double. */
export const MAX_FILE_SIZE = 2 ** 50

export interface ControlPlaneOptions {
  readonly chunkSize: number
  /** The topology's name, reported by `topology`. */
  readonly topologyName: string
  /** The state machine's session timeout, told to clients (default SESSION_TIMEOUT_MILLIS). */
  readonly sessionTimeoutMillis?: number
}

export const ReplicatedControlPlane = (options: ControlPlaneOptions) =>
  Layer.effect(
    ControlPlaneOrchestrator,
    Effect.gen(function*() {
      const replicator = yield* MetadataReplicator
      const metadata = yield* MetadataService
      const placement = yield* PlacementStrategy
      const cluster = yield* ClusterService
      const endpoints = yield* EndpointResolver
      const { chunkSize } = options

      const read = replicator.linearizable
      const now = Clock.currentTimeMillis
      /** Propose a command built with the current time; the state machine's result is the answer. */
      const propose = (make: (now: number) => MetadataCommand, request: RequestTag | null) =>
        Effect.flatMap(now, (t) => replicator.propose(make(t), request))
      const attributesOf = (result: Attributes | null) =>
        result === null ? Effect.dieMessage("state machine returned no attributes for a command that creates them") : Effect.succeed(result)

      const checkRange = (offset: number, length: number) =>
        offset + length > MAX_FILE_SIZE
          ? Effect.fail(new InvalidArgument({ message: `range ends past the maximum file size ${MAX_FILE_SIZE}` }))
          : Effect.void

      /** Size and chunk map from one consistent state (two reads could straddle a truncate). */
      const fileChunks = (inode: InodeId) => read(metadata.layout(inode))

      /** The chunks of `layout` that overlap the range, up to the end of the file. */
      const readPlan = (offset: number, length: number) =>
      (layout: FileLayout): ReadPlan => {
        const end = Math.min(offset + length, layout.attributes.size)
        const chunks = layout.chunks.filter((c) => c.index * chunkSize < end && (c.index + 1) * chunkSize > offset)
        return { attributes: layout.attributes, chunkSize, chunks }
      }

      return ControlPlaneOrchestrator.of({
        getattr: (inode) => read(metadata.getattr(inode)),
        lookup: (parent, name) => read(metadata.lookup(parent, name)),
        lookupPath: (path) => read(metadata.lookupPath(path)),
        access: (inode, uid, gid, mask) => read(metadata.access(inode, uid, gid, mask)),
        readdir: (inode, cookie, max) => read(metadata.readdir(inode, cookie, max)),
        readdirplus: (inode, cookie, max) => read(metadata.readdirplus(inode, cookie, max)),
        fsstat: read(metadata.fsstat),
        fsinfo: Effect.succeed({
          chunkSize,
          maxNameBytes: MAX_NAME_BYTES,
          maxFileSize: MAX_FILE_SIZE,
          replication: placement.replication,
          sessionTimeoutMillis: options.sessionTimeoutMillis ?? SESSION_TIMEOUT_MILLIS
        }),

        openSession: (session, create) => Effect.asVoid(propose((t) => ({ _tag: "OpenSession", session, create, now: t }), null)),
        closeSession: (session) => Effect.asVoid(propose((t) => ({ _tag: "CloseSession", session, now: t }), null)),

        create: (r, request) =>
          propose((t) => ({ _tag: "Create", ...r, now: t }), request).pipe(Effect.flatMap(attributesOf)),
        mkdir: (r, request) =>
          propose((t) => ({ _tag: "Mkdir", ...r, now: t }), request).pipe(Effect.flatMap(attributesOf)),
        unlink: (parent, name, request) =>
          Effect.asVoid(propose((t) => ({ _tag: "Unlink", parent, name, now: t }), request)),
        rmdir: (parent, name, request) =>
          Effect.asVoid(propose((t) => ({ _tag: "Rmdir", parent, name, now: t }), request)),
        rename: (srcParent, srcName, dstParent, dstName, request) =>
          Effect.asVoid(propose((t) => ({ _tag: "Rename", srcParent, srcName, dstParent, dstName, now: t }), request)),
        setattr: (inode, changes, request) =>
          Effect.gen(function*() {
            if (changes.size !== undefined) yield* checkRange(changes.size, 0)
            const result = yield* propose((t) => ({ _tag: "SetAttr", inode, changes, now: t }), request)
            return yield* attributesOf(result)
          }),

        prepareWrite: (inode, at, length, request, optimistic) =>
          Effect.gen(function*() {
            const layout = metadata.writeLayout(inode, request)
            const state = yield* (optimistic ? Effect.orElse(replicator.leaderLocal(layout), () => read(layout)) : read(layout))
            if (state._tag === "Recorded") return state
            const { attributes, chunks } = state
            const offset = at === "end" ? attributes.size : at
            yield* checkRange(offset, length)
            const nonce = yield* randomHex(2)
            // Minted on the replicated clock, which the commit's expiry check measures against.
            const createdAt = yield* replicator.clock
            const txId = `${inode.toString(36)}-${createdAt.toString(36)}-${nonce}`
            const first = Math.floor(offset / chunkSize)
            const last = length === 0 ? first - 1 : Math.floor((offset + length - 1) / chunkSize)
            const planned: Array<PlannedChunk> = []
            for (let index = first; index <= last; index++) {
              const targets = yield* placement.place(inode, index)
              planned.push({
                index,
                current: chunks.find((c) => c.index === index) ?? null,
                versionId: formatVersionId({ inode, index, createdAt, nonce }),
                targets
              })
            }
            return { _tag: "WritePlan", txId, inode, offset, size: attributes.size, length, chunkSize, chunks: planned } as const
          }),

        prepareRead: (inode, offset, length) =>
          Effect.zipRight(checkRange(offset, length), Effect.map(fileChunks(inode), readPlan(offset, length))),

        prepareReadPath: (path, offset, length) =>
          Effect.zipRight(checkRange(offset, length), Effect.map(read(metadata.pathLayout(path)), readPlan(offset, length))),

        topology: Effect.gen(function*() {
          const status = yield* replicator.status
          const members = yield* cluster.members
          const leaderAddress = status.leaderId === null
            ? null
            : yield* endpoints.resolve(status.leaderId).pipe(Effect.orElseSucceed(() => null))
          return {
            name: options.topologyName,
            self: { node: cluster.self, replicator: status, leaderAddress },
            members
          }
        })
      })
    })
  )
