/**
 * ControlPlaneOrchestrator: the metadata side of every request. Mutations are turned into
 * commands (with time from Clock) and proposed through the replicator; reads are served
 * linearizably. It also plans writes: which chunks a byte range touches, their current
 * versions, fresh version ids and placement targets.
 */
import { Context, type Effect } from "effect"
import type { NodeInfo, Topology } from "../domain/cluster.ts"
import type { CommandOutcome, RequestTag } from "../domain/commands.ts"
import type { CommandError } from "../domain/errors.ts"
import type { SessionId } from "../domain/session.ts"
import type {
  AttributeChanges, Attributes, ChunkRef, DirectoryRef, FsInfo, FsStat, InodeId, ReaddirPage, ReaddirPlusPage
} from "../domain/fs.ts"
import type { ReplicationError } from "./MetadataReplicator.ts"

export type ControlError = CommandError | ReplicationError

export interface CreateRequest {
  /** the directory's inode, or its absolute path (resolved when the change is applied) */
  readonly parent: DirectoryRef
  readonly name: string
  readonly mode: number
  readonly uid: number
  readonly gid: number
  readonly exclusive: boolean
}

/** One chunk a write touches: what is there now, the id of the new version, where it goes. */
export interface PlannedChunk {
  readonly index: number
  readonly current: ChunkRef | null
  readonly versionId: string
  readonly targets: ReadonlyArray<NodeInfo>
}

/** Where a write goes: a byte offset, or "end" to append at the file's size when it commits. */
export type WriteOffset = number | "end"

export interface WritePlan {
  readonly _tag: "WritePlan"
  readonly txId: string
  readonly inode: InodeId
  /** the resolved offset ("end" resolves to `size`) */
  readonly offset: number
  /** the file's size when the write was planned */
  readonly size: number
  readonly length: number
  readonly chunkSize: number
  readonly chunks: ReadonlyArray<PlannedChunk>
}

/** What a read needs: the file's size and the chunks overlapping the range. */
export interface ReadPlan {
  readonly attributes: Attributes
  readonly chunkSize: number
  readonly chunks: ReadonlyArray<ChunkRef>
}

export interface ControlPlaneOrchestratorShape {
  readonly getattr: (inode: InodeId) => Effect.Effect<Attributes, ControlError>
  readonly lookup: (parent: InodeId, name: string) => Effect.Effect<Attributes, ControlError>
  readonly lookupPath: (path: string) => Effect.Effect<Attributes, ControlError>
  readonly access: (inode: InodeId, uid: number, gid: number, mask: number) => Effect.Effect<void, ControlError>
  readonly readdir: (inode: InodeId, cookie: string | null, max: number) => Effect.Effect<ReaddirPage, ControlError>
  readonly readdirplus: (inode: InodeId, cookie: string | null, max: number) => Effect.Effect<ReaddirPlusPage, ControlError>
  readonly fsstat: Effect.Effect<FsStat, ControlError>
  readonly fsinfo: Effect.Effect<FsInfo>

  readonly create: (fields: CreateRequest, request: RequestTag | null) => Effect.Effect<Attributes, ControlError>
  readonly mkdir: (fields: Omit<CreateRequest, "exclusive">, request: RequestTag | null) => Effect.Effect<Attributes, ControlError>
  readonly unlink: (parent: DirectoryRef, name: string, request: RequestTag | null) => Effect.Effect<void, ControlError>
  readonly rmdir: (parent: DirectoryRef, name: string, request: RequestTag | null) => Effect.Effect<void, ControlError>
  readonly rename: (
    srcParent: DirectoryRef,
    srcName: string,
    dstParent: DirectoryRef,
    dstName: string,
    request: RequestTag | null
  ) => Effect.Effect<void, ControlError>
  readonly setattr: (inode: InodeId, changes: AttributeChanges, request: RequestTag | null) => Effect.Effect<Attributes, ControlError>

  /** Open client session `session` (`create`), or keep an open one alive. */
  readonly openSession: (session: SessionId, create: boolean) => Effect.Effect<void, ControlError>
  readonly closeSession: (session: SessionId) => Effect.Effect<void, ControlError>

  /**
   * Plan a write serving `request`; if that request was already carried out (this is a
   * resend), its recorded outcome instead: a write is never applied twice.
   *
   * An `optimistic` plan is made from this leader's applied state, without a ReadIndex round.
   * It may be stale, but its commit checks every version (and, appending, the size) it read, so
   * staleness costs a Conflict and a fresh plan, never a wrong write; a resend it does not yet
   * see as carried out is answered from the record when its commit applies. A plan that fails
   * optimistically (the file not there yet) is made again linearizably.
   */
  readonly prepareWrite: (
    inode: InodeId,
    offset: WriteOffset,
    length: number,
    request: RequestTag | null,
    optimistic: boolean
  ) => Effect.Effect<WritePlan | { readonly _tag: "Recorded"; readonly outcome: CommandOutcome }, ControlError>
  readonly prepareRead: (inode: InodeId, offset: number, length: number) => Effect.Effect<ReadPlan, ControlError>
  /** `prepareRead` of the file at `path`, resolved in the same linearizable read (one ReadIndex round for both). */
  readonly prepareReadPath: (path: string, offset: number, length: number) => Effect.Effect<ReadPlan, ControlError>
  readonly topology: Effect.Effect<Topology>
}

export class ControlPlaneOrchestrator extends Context.Tag("sandstore/ControlPlaneOrchestrator")<
  ControlPlaneOrchestrator,
  ControlPlaneOrchestratorShape
>() {}
