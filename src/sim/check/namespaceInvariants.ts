/**
 * Invariants of each node's final namespace (FinalState.nodes), independent of the history:
 * - a tree: the root is a directory; every other path's parent is a directory of the same
 *   namespace (no dangling entry); no path and no inode appears twice (each inode is reachable
 *   from the root exactly once, so there is no cycle and no second name);
 * - directories have no size and no chunks; a file's chunks have distinct indices, keep
 *   `length <= storedLength`, and none extends past the file's size;
 * - replicas: nodes at the same applied index hold identical namespaces and garbage lists.
 * nlink is not part of FinalState's entries, so it is not checked here.
 */
import { DEFAULT_CHUNK_SIZE } from "../../domain/fs.ts"
import type { NodeMetadata } from "../finalState.ts"
import type { FinalState } from "../finalState.ts"
import { parentOf } from "./fsModel.ts"
import { type CheckVerdict, failed, passed } from "./verdict.ts"

export interface NamespaceOptions {
  /** The chunk size the run's cluster used. */
  readonly chunkSize?: number
}

const treeProblems = (node: NodeMetadata, chunkSize: number): Array<string> => {
  const problems: Array<string> = []
  const byPath = new Map<string, NodeMetadata["entries"][number]>()
  const inodes = new Map<number, string>()
  for (const entry of node.entries) {
    if (byPath.has(entry.path)) problems.push(`${entry.path} appears twice`)
    byPath.set(entry.path, entry)
    const other = inodes.get(entry.inode)
    if (other !== undefined) problems.push(`inode ${entry.inode} is named twice: ${other} and ${entry.path}`)
    inodes.set(entry.inode, entry.path)
  }
  const root = byPath.get("/")
  if (root === undefined || root.type !== "directory") problems.push("the root is not a directory")
  for (const entry of node.entries) {
    if (entry.path !== "/") {
      const parent = byPath.get(parentOf(entry.path))
      if (parent === undefined) problems.push(`${entry.path} dangles: no parent ${parentOf(entry.path)}`)
      else if (parent.type !== "directory") problems.push(`${entry.path} is inside file ${parent.path}`)
    }
    if (entry.type === "directory") {
      if (entry.size !== 0 || entry.chunks.length > 0) problems.push(`directory ${entry.path} has size ${entry.size} and ${entry.chunks.length} chunk(s)`)
      continue
    }
    const indices = new Set<number>()
    for (const chunk of entry.chunks) {
      if (indices.has(chunk.index)) problems.push(`${entry.path} has chunk ${chunk.index} twice`)
      indices.add(chunk.index)
      if (chunk.length < 0 || chunk.length > chunk.storedLength) {
        problems.push(`${entry.path} chunk ${chunk.index} uses ${chunk.length} of ${chunk.storedLength} stored bytes`)
      }
      const end = chunk.index * chunkSize + chunk.length
      if (end > entry.size) problems.push(`${entry.path} chunk ${chunk.index} ends at ${end}, past the size ${entry.size}`)
    }
  }
  return problems.map((p) => `node ${node.nodeId}: ${p}`)
}

const canonical = (node: NodeMetadata): string => JSON.stringify([node.entries, node.garbage])

export const checkNamespaceInvariants = (finalState: FinalState, options: NamespaceOptions = {}): CheckVerdict => {
  const chunkSize = options.chunkSize ?? DEFAULT_CHUNK_SIZE
  const problems = finalState.nodes.flatMap((node) => treeProblems(node, chunkSize))
  const byIndex = new Map<number, NodeMetadata>()
  for (const node of finalState.nodes) {
    const first = byIndex.get(node.appliedIndex)
    if (first === undefined) byIndex.set(node.appliedIndex, node)
    else if (canonical(first) !== canonical(node)) {
      problems.push(`nodes ${first.nodeId} and ${node.nodeId} differ at applied index ${node.appliedIndex}`)
    }
  }
  if (problems.length > 0) return failed(`${problems.length} namespace invariant(s) broken: ${problems.slice(0, 10).join("; ")}`)
  return passed(finalState.nodes.reduce((n, node) => n + node.entries.length, 0))
}
