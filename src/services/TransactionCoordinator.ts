/**
 * TransactionCoordinator: commits a two-phase write. Given chunk versions already staged on
 * their targets, it proposes one log entry that installs them all, conditional on the
 * versions the writer read (Conflict when another writer got there first), and answers once
 * that entry applied; the participants are told to finalize after, off the writer's path. It aborts staged versions only when the commit definitely did not
 * happen; when the outcome is unknown (timeout, lost leadership) it leaves them for the
 * participants to resolve against the committed metadata.
 */
import { Context, type Effect } from "effect"
import type { ChunkUpdate, RequestTag } from "../domain/commands.ts"
import type { CommandError } from "../domain/errors.ts"
import type { Attributes } from "../domain/fs.ts"
import type { ReplicationError } from "./MetadataReplicator.ts"

export interface WriteTransaction {
  readonly txId: string
  readonly inode: number
  /** offset + length of the write: the file's size becomes at least this */
  readonly end: number
  readonly updates: ReadonlyArray<ChunkUpdate>
  /** The client request the write serves: every attempt at it carries the same one. */
  readonly request: RequestTag | null
  /** for an append: the file size it was planned at (the commit conflicts if it changed) */
  readonly expectedSize: number | null
}

export interface TransactionCoordinatorShape {
  readonly commit: (tx: WriteTransaction) => Effect.Effect<Attributes, CommandError | ReplicationError>
}

export class TransactionCoordinator extends Context.Tag("sandstore/TransactionCoordinator")<
  TransactionCoordinator,
  TransactionCoordinatorShape
>() {}
