/**
 * What a simulated cluster holds once a run has ended: every fault healed, every node up and
 * caught up, the chunk collector given time past ORPHAN_GRACE_MILLIS. Checkers (src/sim/check/*)
 * read it together with the history.
 *
 * - `nodes`: each node's metadata state machine, read directly from its MetadataService (no
 *   Raft read): its applied index and its whole namespace, walked from the root. After
 *   recovery every node should hold the same namespace at the same applied index.
 * - `chunks`: every chunk version stored on any node's chunk store, staged or committed.
 * - `files`: every regular file of the leader's namespace read back through the real SDK
 *   (a linearizable read after the run), with the content id reconstructed from its bytes
 *   when they are exactly one whole-file pattern (src/sim/content.ts).
 * - `directories`: every directory's names as the SDK's readdir returns them, after recovery.
 *
 * Paths are absolute ("/a/b"); every list is sorted (by path, then node id, then version id)
 * so two runs of one seed produce byte-identical final states.
 */
import type { ChunkRef } from "../domain/fs.ts"
import type { Content } from "./history.ts"

/** One name in a node's namespace. Files carry their chunk map; directories an empty one. */
export interface NamespaceEntry {
  readonly path: string
  readonly type: "file" | "directory"
  readonly inode: number
  /** Bytes for a file; 0 for a directory. */
  readonly size: number
  readonly chunks: ReadonlyArray<ChunkRef>
}

export interface NodeMetadata {
  readonly nodeId: string
  readonly appliedIndex: number
  /** Sorted by path; the root ("/") included. */
  readonly entries: ReadonlyArray<NamespaceEntry>
  /** Chunk versions the state machine knows to be unreferenced and not yet collected. */
  readonly garbage: ReadonlyArray<ChunkRef>
}

export interface StoredChunk {
  readonly nodeId: string
  readonly versionId: string
  readonly state: "staged" | "committed"
}

export type FileReadBack =
  | {
    readonly _tag: "Read"
    readonly path: string
    readonly bytes: Uint8Array
    /** The whole-file content these bytes are, or undefined when they match no single pattern. */
    readonly content: Content | undefined
  }
  /** The read failed (error tag), e.g. a chunk no node could serve. */
  | { readonly _tag: "Failed"; readonly path: string; readonly error: string }

export interface DirectoryListing {
  readonly path: string
  readonly names: ReadonlyArray<string>
}

export interface FinalState {
  readonly nodes: ReadonlyArray<NodeMetadata>
  readonly chunks: ReadonlyArray<StoredChunk>
  readonly files: ReadonlyArray<FileReadBack>
  readonly directories: ReadonlyArray<DirectoryListing>
  /** The append-only log's bytes read back (src/sim/appendLog.ts); null when it does not exist or could not be read. */
  readonly appendLog?: FileReadBack | null
}
