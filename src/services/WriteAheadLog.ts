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

export interface WriteAheadLogShape {
  /** The records found when the log was opened, in append order. */
  readonly recovered: ReadonlyArray<WalRecord>
  /** Append records durably, in order. */
  readonly append: (records: ReadonlyArray<WalRecord>) => Effect.Effect<void, IoError>
  /**
   * Start a new segment whose first records are `records` and delete every older segment,
   * atomically: after a crash either the old segments or the new one are found. Used to
   * compact the log behind a snapshot.
   */
  readonly rewrite: (records: ReadonlyArray<WalRecord>) => Effect.Effect<void, IoError>
}

export class WriteAheadLog extends Context.Tag("sandstore/WriteAheadLog")<WriteAheadLog, WriteAheadLogShape>() {}
