/**
 * What a follower does with the leader's AppendEntries and InstallSnapshot: check the log
 * matches at the leader's anchor, repair a divergent tail, follow the commit index, and
 * assemble and install snapshots. Answers go out in the same Output, so the layer sends them
 * only after what they acknowledge is durable.
 */
import { findConflictByTerm, lastIndex, restore, termAt, truncateAndAppend } from "./log.ts"
import { receiveChunk } from "./snapshotTransfer.ts"
import { type RaftState, send } from "./state.ts"
import type { Entry, Message } from "./types.ts"

type AppendEntries = Extract<Message, { _tag: "AppendEntries" }>
type InstallSnapshot = Extract<Message, { _tag: "InstallSnapshot" }>

const isContiguous = (prevLogIndex: number, entries: ReadonlyArray<Entry>): boolean =>
  entries.every((entry, k) => entry.index === prevLogIndex + 1 + k)

export const handleAppendEntries = (state: RaftState, message: AppendEntries): void => {
  const log = state.log
  if (!isContiguous(message.prevLogIndex, message.entries)) return
  let prevLogIndex = message.prevLogIndex
  let prevLogTerm = message.prevLogTerm
  let entries = message.entries
  if (prevLogIndex < log.commit) {
    // Everything up to our commit index is already the leader's; anchor there instead (it
    // also covers an anchor inside our compacted prefix).
    entries = entries.slice(log.commit - prevLogIndex)
    prevLogIndex = log.commit
    prevLogTerm = termAt(log, log.commit)!
  }
  const reply = (success: boolean, matchIndex: number, conflictIndex: number, conflictTerm: number) =>
    send(state, message.from, {
      _tag: "AppendEntriesResponse",
      success,
      matchIndex,
      conflictIndex,
      conflictTerm,
      readContext: message.readContext
    })
  if (termAt(log, prevLogIndex) !== prevLogTerm) {
    // Tell the leader the last point our logs may share: our last index at or below its
    // anchor whose term is not above its anchor's term (fast backtracking, a term at a time).
    const hint = findConflictByTerm(log, Math.min(prevLogIndex, lastIndex(log)), prevLogTerm)
    reply(false, 0, hint.index, hint.term)
    return
  }
  const conflict = entries.findIndex((entry) => termAt(log, entry.index) !== entry.term)
  if (conflict >= 0) {
    const fresh = entries.slice(conflict)
    truncateAndAppend(log, fresh)
    state.out.writtenFrom = Math.min(state.out.writtenFrom, fresh[0]!.index)
  }
  const lastNew = prevLogIndex + entries.length
  log.commit = Math.max(log.commit, Math.min(message.leaderCommit, lastNew))
  reply(true, lastNew, 0, 0)
}

export const handleInstallSnapshot = (state: RaftState, message: InstallSnapshot): void => {
  const log = state.log
  const reply = (nextOffset: number, done: boolean) =>
    send(state, message.from, {
      _tag: "InstallSnapshotResponse",
      snapshotIndex: message.snapshotIndex,
      nextOffset,
      done
    })
  if (message.snapshotIndex <= log.commit) {
    // Already have everything it covers (a partial copy of it, if any, is useless now).
    if (state.incoming !== null && state.incoming.index <= log.commit) state.incoming = null
    reply(message.totalBytes, true)
    return
  }
  const { accepted, complete, incoming } = receiveChunk(state.incoming, message)
  state.incoming = incoming
  if (!complete) {
    if (accepted !== null) state.out.snapshotChunks.push(accepted)
    reply(incoming?.received ?? 0, false)
    return
  }
  const snapshot = { index: message.snapshotIndex, term: message.snapshotTerm, size: message.totalBytes }
  const installs = termAt(log, snapshot.index) !== snapshot.term
  // The chunk that completes it says what becomes of it. An empty snapshot has no bytes to take:
  // its one chunk is still handed on, so the layer keeps a file for it like any other.
  const last = accepted ?? { index: snapshot.index, term: snapshot.term, offset: 0, data: message.data, totalBytes: 0, last: true, install: false }
  state.out.snapshotChunks.push({ ...last, install: installs })
  if (!installs) {
    // Our log already holds the snapshot's last entry, so it matches up to there: keep the
    // log and just learn that it is committed.
    log.commit = snapshot.index
  } else {
    restore(log, snapshot)
    state.snapshot = snapshot
    state.out.snapshot = snapshot
    state.out.writtenFrom = Infinity
  }
  reply(message.totalBytes, true)
}
