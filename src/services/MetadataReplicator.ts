/**
 * MetadataReplicator: orders metadata commands into a durable log and applies them to the
 * MetadataService on every replica. `propose` resolves with the state machine's own outcome
 * for that entry (so EEXIST reaches the caller) once it is durable and applied here;
 * `linearizable` runs a read only after confirming this node is still the leader (ReadIndex)
 * and has applied everything committed before the read began.
 *
 * Both answer by the deadline of the request they serve (`RequestDeadline`, src/lib/deadline.ts):
 * past it they fail with Timeout (the outcome of a proposal is then unknown). The server sets
 * no timer of its own around metadata requests; this is what bounds them.
 */
import { Context, type Effect } from "effect"
import type { ReplicatorStatus } from "../domain/cluster.ts"
import type { CommandResult, MetadataCommand, RequestTag } from "../domain/commands.ts"
import type { Busy, Corruption, CommandError, IoError, NotLeader, Timeout, Unavailable } from "../domain/errors.ts"

export type ReplicationError = NotLeader | Unavailable | Busy | Timeout | IoError | Corruption

export interface MetadataReplicatorShape {
  readonly propose: (
    command: MetadataCommand,
    request?: RequestTag | null
  ) => Effect.Effect<CommandResult, CommandError | ReplicationError>
  readonly linearizable: <A, E, R>(read: Effect.Effect<A, E, R>) => Effect.Effect<A, E | ReplicationError, R>
  /**
   * Run `read` on this node's applied state, with no ReadIndex round, if this node leads (else
   * fail as `propose` would). The state may lag what is committed (entries not applied yet, or
   * a leader deposed without knowing it), so this is only for reads whose result is checked
   * again where it matters: a write plan, whose commit names every version it read.
   */
  readonly leaderLocal: <A, E, R>(read: Effect.Effect<A, E, R>) => Effect.Effect<A, E | ReplicationError, R>
  readonly status: Effect.Effect<ReplicatorStatus>
  /**
   * This node's reading of the replicated clock (the state machine's time, on which transaction
   * and session expiry are measured): what an entry proposed now carries. It does not follow
   * this node's wall clock, so one node's wrong clock cannot move it.
   */
  readonly clock: Effect.Effect<number>
}

export class MetadataReplicator extends Context.Tag("sandstore/MetadataReplicator")<
  MetadataReplicator,
  MetadataReplicatorShape
>() {}
