/**
 * MetadataReplicator: orders metadata commands into a durable log and applies them to the
 * MetadataService on every replica. `propose` resolves with the state machine's own outcome
 * for that entry (so EEXIST reaches the caller) once it is durable and applied here;
 * `linearizable` runs a read only after confirming this node is still the leader (ReadIndex)
 * and has applied everything committed before the read began.
 */
import { Context, type Effect } from "effect"
import type { ReplicatorStatus } from "../domain/cluster.ts"
import type { CommandResult, MetadataCommand, RequestTag } from "../domain/commands.ts"
import type { Corruption, CommandError, IoError, NotLeader, Timeout, Unavailable } from "../domain/errors.ts"

export type ReplicationError = NotLeader | Unavailable | Timeout | IoError | Corruption

export interface MetadataReplicatorShape {
  readonly propose: (
    command: MetadataCommand,
    request?: RequestTag | null
  ) => Effect.Effect<CommandResult, CommandError | ReplicationError>
  readonly linearizable: <A, E, R>(read: Effect.Effect<A, E, R>) => Effect.Effect<A, E | ReplicationError, R>
  readonly status: Effect.Effect<ReplicatorStatus>
}

export class MetadataReplicator extends Context.Tag("sandstore/MetadataReplicator")<
  MetadataReplicator,
  MetadataReplicatorShape
>() {}
