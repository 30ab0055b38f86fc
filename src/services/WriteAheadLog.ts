/**
 * WriteAheadLog: an append-only log of typed records in segment files, each record
 * `length | crc32c | type | payload`. `append` returns once its records are fsynced; appends
 * that arrive while an fsync is running share the next one (group commit). Opening the log
 * recovers it: a torn tail (a crash mid-append) is truncated, while damage before the tail
 * fails with `Corruption` naming the file and offset — never silently skipped.
 */
import { Context, type Effect } from "effect"
import type { IoError } from "../domain/errors.ts"

export interface WalRecord {
  readonly type: number
  readonly payload: Uint8Array
}

export interface AppendOptions {
  /**
   * The caller has nothing more urgent to do than wait for this append (a Raft follower, whose
   * leader waits for its answer): a log may then make it durable on the caller's own thread,
   * blocking the event loop for the fsync, instead of a trip to a worker thread and back
   * (two wake-ups, most of an append's latency on a busy machine). A caller that must notice
   * a stalled disk while it waits (a leader) leaves it off. Logs without threads ignore it.
   */
  readonly inline?: boolean
}

export interface WriteAheadLogShape {
  /** The records found when the log was opened, in append order. */
  readonly recovered: ReadonlyArray<WalRecord>
  /** Append records durably, in order. */
  readonly append: (records: ReadonlyArray<WalRecord>, options?: AppendOptions) => Effect.Effect<void, IoError>
  /**
   * Start a new segment whose first records are `records` and delete every older segment,
   * atomically: after a crash either the old segments or the new one are found. Used to
   * compact the log behind a snapshot.
   */
  readonly rewrite: (records: ReadonlyArray<WalRecord>) => Effect.Effect<void, IoError>
}

export class WriteAheadLog extends Context.Tag("sandstore/WriteAheadLog")<WriteAheadLog, WriteAheadLogShape>() {}
