/**
 * ChunkService: this node's store of immutable chunk versions. A version is staged (durable:
 * file and directory fsynced, checksum verified), then committed or aborted. Bytes are never
 * edited in place: an overwrite is a new version. Every read verifies checksums, so a flipped
 * bit on disk is a `Corruption` error, never returned data. Version ids are validated so no id
 * can name a path outside the store. A small write to a large version need not copy it:
 * `stagePatch` makes a version from one stored here and the bytes that differ, and the store
 * keeps only those bytes (plus, now and then, a whole copy so reads stay short).
 */
import { Context, type Effect } from "effect"
import type { Corruption, InvalidArgument, IoError, NotFound } from "../domain/errors.ts"

export interface StoredVersions {
  readonly staged: ReadonlyArray<string>
  readonly committed: ReadonlyArray<string>
}

/** A new version as an overwrite of a stored one: see `stagePatch`. */
export interface ChunkPatch {
  /** The version this one is made from. */
  readonly base: string
  /** crc32c of the base as the sender knows it: a node whose copy differs refuses the patch. */
  readonly baseChecksum: number
  /** Where `data` goes in the new version. */
  readonly offset: number
  readonly data: Uint8Array
  /** crc32c of `data`: bytes damaged on the way are refused. */
  readonly checksum: number
}

export interface ChunkServiceShape {
  /** Durably stage `data` as `versionId`; fails InvalidArgument (and stores nothing) when crc32c(data) !== checksum. Idempotent for identical bytes. */
  readonly stage: (
    versionId: string,
    data: Uint8Array,
    checksum: number
  ) => Effect.Effect<void, InvalidArgument | Corruption | IoError>
  /**
   * Durably stage `versionId` as `patch.base`'s bytes, zero-extended to
   * max(base length, offset + data length), with `patch.data` laid at `patch.offset`, and
   * answer the new version's crc32c (every node holding the same base answers the same). The
   * base must be staged or committed here (NotFound otherwise) with checksum
   * `patch.baseChecksum`, and `patch.data` must have checksum `patch.checksum` (InvalidArgument
   * otherwise, storing nothing). The new version is then a version like any other: reads,
   * commit, abort and remove see no difference, and removing the base does not change it.
   * Idempotent for the same version.
   */
  readonly stagePatch: (versionId: string, patch: ChunkPatch) => Effect.Effect<number, NotFound | InvalidArgument | Corruption | IoError>
  /**
   * Make staged versions committed (idempotent), many in one call: the transaction coordinator
   * finalizes a batch of transactions' versions with one request per node. NotFound, naming
   * them, when some are neither staged nor committed; the others are committed first. An
   * invalid id fails the call before anything changes. Committing changes no bytes, so it need
   * not be durable: a version found staged after a crash is still served, and the chunk
   * collector finalizes it again.
   */
  readonly commit: (versionIds: ReadonlyArray<string>) => Effect.Effect<void, NotFound | InvalidArgument | IoError>
  /**
   * Replace the bytes stored for `versionId` (staged or committed here; NotFound otherwise) with
   * `data`, whole, verified against `checksum` first (InvalidArgument otherwise, changing
   * nothing). For a replica found damaged: its version keeps its id and state and reads `data`
   * from then on; a patch version becomes whole, so a damaged base no longer matters to it.
   */
  readonly repair: (versionId: string, data: Uint8Array, checksum: number) => Effect.Effect<void, NotFound | InvalidArgument | IoError>
  /** Drop a staged version (idempotent; a committed version is left alone). */
  readonly abort: (versionId: string) => Effect.Effect<void, InvalidArgument | IoError>
  /**
   * Read `length` bytes at `offset` of a version, staged or committed (callers only read
   * versions that committed metadata references). Short when the range passes its end.
   */
  readonly read: (
    versionId: string,
    offset: number,
    length: number
  ) => Effect.Effect<Uint8Array, NotFound | InvalidArgument | Corruption | IoError>
  /**
   * Delete versions whatever their state (idempotent). One call for many: the collector
   * deletes a sweep's worth with one request per node, and a disk syncs its directories once.
   * An invalid id fails the call before anything is deleted.
   */
  readonly remove: (versionIds: ReadonlyArray<string>) => Effect.Effect<void, InvalidArgument | IoError>
  readonly list: Effect.Effect<StoredVersions, IoError>
}

export class ChunkService extends Context.Tag("sandstore/ChunkService")<ChunkService, ChunkServiceShape>() {}

/** Version ids are opaque tokens of safe characters: never a path. */
export const VERSION_ID_PATTERN = /^[A-Za-z0-9_-]{1,128}$/
