/**
 * The Outputs of one turn of the Raft driver, merged so that one WAL append (one fsync)
 * covers them all (group commit). Merging keeps each Output's meaning: the latest hard state
 * wins, later entries replace earlier ones at the same or later indices, messages and results
 * keep their order, and a snapshot to install keeps its place before the entries committed
 * after it.
 */
import type {
  Entry, HardState, Message, Output, ProposalResult, ReadResult, Snapshot, SnapshotChunk
} from "../../src/raft/types.ts"

/** Work for the apply fiber, in order. */
export type ApplyItem =
  | { readonly _tag: "Restore"; readonly snapshot: Snapshot }
  | { readonly _tag: "Apply"; readonly entries: ReadonlyArray<Entry> }

export class RoundOutput {
  hardState: HardState | null = null
  entries: Array<Entry> = []
  readonly messages: Array<Message> = []
  readonly applies: Array<ApplyItem> = []
  readonly proposals: Array<ProposalResult> = []
  readonly reads: Array<ReadResult> = []
  /** Chunks of a snapshot being received, in order: written before the turn's messages go. */
  readonly snapshotChunks: Array<SnapshotChunk> = []
  snapshotWanted = false

  /** The latest snapshot installed from the leader in this turn (the last Restore). */
  get installed(): Snapshot | null {
    for (let k = this.applies.length - 1; k >= 0; k--) {
      const item = this.applies[k]!
      if (item._tag === "Restore") return item.snapshot
    }
    return null
  }

  add(output: Output): void {
    if (output.hardState !== null) this.hardState = output.hardState
    for (const chunk of output.snapshotChunks) this.snapshotChunks.push(chunk)
    // A snapshot from the leader is restored before the entries committed after it.
    if (output.snapshot !== null) this.applies.push({ _tag: "Restore", snapshot: output.snapshot })
    if (output.snapshotWanted) this.snapshotWanted = true
    if (output.entries.length > 0) {
      // Entries are consecutive: keep those before the first new index.
      const first = output.entries[0]!.index
      const base = this.entries[0]?.index ?? first
      this.entries.length = Math.min(this.entries.length, Math.max(0, first - base))
      for (const entry of output.entries) this.entries.push(entry)
    }
    for (const message of output.messages) this.messages.push(message)
    if (output.committed.length > 0) this.applies.push({ _tag: "Apply", entries: output.committed })
    for (const result of output.proposals) this.proposals.push(result)
    for (const result of output.reads) this.reads.push(result)
  }
}
