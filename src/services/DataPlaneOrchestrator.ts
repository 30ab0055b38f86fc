/**
 * DataPlaneOrchestrator: the bytes side. A write is planned by the control plane, staged as new
 * immutable chunk versions on every target in parallel, and committed by the
 * TransactionCoordinator; it resolves only when the bytes are durable on every target and the
 * metadata is applied. A write serving a client request applies at most once, however many
 * attempts it takes and however often the client resends it. A read fetches the chunks overlapping the range (failing over across
 * replicas), verifies them and fills holes with zeros; it is short only at end of file.
 */
import { Context, type Effect } from "effect"
import type { RequestTag } from "../domain/commands.ts"
import type { Attributes, InodeId } from "../domain/fs.ts"
import type { ControlError, WriteOffset } from "./ControlPlaneOrchestrator.ts"

export interface DataPlaneOrchestratorShape {
  readonly write: (
    inode: InodeId,
    offset: WriteOffset,
    data: Uint8Array,
    request: RequestTag | null,
    /** crc32c of `data` if known (the client's): checked by the replicas instead of computed again */
    checksum?: number
  ) => Effect.Effect<Attributes, ControlError>
  readonly read: (inode: InodeId, offset: number, length: number) => Effect.Effect<Uint8Array, ControlError>
  /**
   * Bytes of a chunk version this node holds, read without the metadata (a client that planned
   * the read with the leader fetches them from any replica). NotFound when this node holds none.
   */
  readonly readVersion: (versionId: string, offset: number, length: number) => Effect.Effect<Uint8Array, ControlError>
  /**
   * `read` of the file at `path`, with its attributes: the path resolved and the chunks planned
   * in one linearizable read, so a small file is read in one request and one ReadIndex round.
   */
  readonly readPath: (
    path: string,
    offset: number,
    length: number
  ) => Effect.Effect<{ readonly attributes: Attributes; readonly data: Uint8Array }, ControlError>
}

export class DataPlaneOrchestrator extends Context.Tag("sandstore/DataPlaneOrchestrator")<
  DataPlaneOrchestrator,
  DataPlaneOrchestratorShape
>() {}
