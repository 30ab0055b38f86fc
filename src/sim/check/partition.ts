/**
 * P-compositionality: operations that can never observe or affect one another are checked
 * separately. Two paths are coupled when an operation on one can see or change the other: a
 * rename couples its two paths (it moves existence, content and subtrees); a path is coupled
 * with every ancestor some operation names (existence of the parent, rmdir's emptiness,
 * readdir's names, renames that move subtrees). The namespace starts empty, so a path no
 * operation names never exists and couples nothing. Partitions are the connected components.
 *
 * A readdir couples its directory with every name beneath it, so a readdir of a busy directory
 * (the root, typically) would fuse the whole history into one partition: a readdir that would
 * grow a partition past `maxOpsPerPartition` is left out and counted.
 */
import { ancestorsOf } from "./fsModel.ts"
import { type HistoryOp, pathsOf } from "./operations.ts"

export interface Partitions {
  readonly partitions: ReadonlyArray<ReadonlyArray<HistoryOp>>
  /** Readdirs left out because they would fuse partitions past the limit. */
  readonly skippedReaddirs: number
}

class UnionFind {
  private readonly parent = new Map<string, string>()
  readonly size = new Map<string, number>()

  find(x: string): string {
    let root = x
    for (let p = this.parent.get(root); p !== undefined && p !== root; p = this.parent.get(root)) root = p
    if (!this.parent.has(x)) {
      this.parent.set(x, x)
      this.size.set(x, 0)
    }
    for (let y = x; y !== root;) {
      const next = this.parent.get(y)!
      this.parent.set(y, root)
      y = next
    }
    return root
  }

  union(a: string, b: string): string {
    const ra = this.find(a)
    const rb = this.find(b)
    if (ra === rb) return ra
    const [big, small] = this.size.get(ra)! >= this.size.get(rb)! ? [ra, rb] : [rb, ra]
    this.parent.set(small, big)
    this.size.set(big, this.size.get(big)! + this.size.get(small)!)
    return big
  }

  addOp(x: string): void {
    const root = this.find(x)
    this.size.set(root, this.size.get(root)! + 1)
  }
}

export const partitionByPaths = (ops: ReadonlyArray<HistoryOp>, maxOpsPerPartition: number): Partitions => {
  const named = new Set<string>()
  for (const op of ops) if (op.op.f !== "readdir") for (const path of pathsOf(op.op)) named.add(path)
  const sets = new UnionFind()
  const couple = (path: string): void => {
    for (const ancestor of ancestorsOf(path)) if (named.has(ancestor)) sets.union(path, ancestor)
  }
  for (const op of ops) {
    if (op.op.f === "readdir") continue
    for (const path of pathsOf(op.op)) couple(path)
    if (op.op.f === "rename") sets.union(op.op.path, op.op.to)
    sets.addOp(op.op.path)
  }
  let skippedReaddirs = 0
  const kept: Array<HistoryOp> = []
  for (const op of ops) {
    if (op.op.f !== "readdir") {
      kept.push(op)
      continue
    }
    const directory = op.op.path
    const beneath = [...named].filter((path) => directory === "/" ? path !== "/" : path.startsWith(directory + "/"))
    const roots = new Set([directory, ...beneath].map((path) => sets.find(path)))
    let total = 1
    for (const root of roots) total += sets.size.get(root)!
    if (roots.size > 1 && total > maxOpsPerPartition) {
      skippedReaddirs++
      continue
    }
    for (const path of beneath) sets.union(directory, path)
    sets.addOp(directory)
    kept.push(op)
  }
  const groups = new Map<string, Array<HistoryOp>>()
  for (const op of kept) {
    const root = sets.find(op.op.path)
    const group = groups.get(root)
    if (group === undefined) groups.set(root, [op])
    else group.push(op)
  }
  return { partitions: [...groups.values()], skippedReaddirs }
}
