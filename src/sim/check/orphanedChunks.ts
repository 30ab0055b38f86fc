/**
 * After garbage collection: every chunk version stored on any node is one the metadata
 * references, committed, on a node its reference names; the garbage list (versions known
 * unreferenced, awaiting deletion) is empty; and no referenced version is missing from a node
 * its reference names (an acknowledged write is durable on every target).
 */
import type { FinalState } from "../finalState.ts"
import { type CheckVerdict, failed, passed } from "./verdict.ts"

export const checkOrphanedChunks = (finalState: FinalState): CheckVerdict => {
  /** versionId -> nodes the metadata says hold it */
  const referenced = new Map<string, Set<string>>()
  const problems: Array<string> = []
  for (const node of finalState.nodes) {
    for (const entry of node.entries) {
      for (const chunk of entry.chunks) {
        const holders = referenced.get(chunk.versionId) ?? new Set<string>()
        for (const holder of chunk.nodes) holders.add(holder)
        referenced.set(chunk.versionId, holders)
      }
    }
    if (node.garbage.length > 0) {
      problems.push(`node ${node.nodeId} still lists ${node.garbage.length} garbage version(s): ${node.garbage.slice(0, 5).map((c) => c.versionId).join(", ")}`)
    }
  }
  const stored = new Set<string>()
  for (const chunk of finalState.chunks) {
    stored.add(`${chunk.nodeId}\u0000${chunk.versionId}`)
    const holders = referenced.get(chunk.versionId)
    if (holders === undefined) problems.push(`orphan: ${chunk.versionId} (${chunk.state}) on node ${chunk.nodeId} is referenced by no file`)
    else if (chunk.state === "staged") problems.push(`${chunk.versionId} on node ${chunk.nodeId} is referenced but still staged`)
  }
  for (const [versionId, holders] of referenced) {
    for (const holder of holders) {
      if (!stored.has(`${holder}\u0000${versionId}`)) problems.push(`missing replica: ${versionId} is not on node ${holder}`)
    }
  }
  if (problems.length > 0) return failed(`${problems.length} chunk storage problem(s) after collection: ${problems.slice(0, 10).join("; ")}`)
  return passed(finalState.chunks.length)
}
