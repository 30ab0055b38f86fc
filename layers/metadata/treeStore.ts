/**
 * A Store (store.ts) in memory, over a persistent red-black tree (Effect's `RedBlackTree`):
 * every write makes a new tree that shares what did not change, so a read view is simply the
 * tree of the moment, and every operation is synchronous. The whole-cluster simulation keeps
 * its nodes' metadata disks this way: no promise per batch, no per-view bookkeeping.
 */
import { Effect, Option, type Order, RedBlackTree } from "effect"
import type { ReadView, ScanRange, Store, Write } from "./store.ts"

export type Tree = RedBlackTree.RedBlackTree<string, Buffer>

const keyOf = (key: Buffer): string => key.toString("latin1")

const stringOrder: Order.Order<string> = (a, b) => (a < b ? -1 : a > b ? 1 : 0)

export const emptyTree: Tree = RedBlackTree.empty<string, Buffer>(stringOrder)

/** `tree` with `writes` applied in order. */
export const applyWrites = (tree: Tree, writes: Iterable<Write>): Tree => {
  let next = tree
  for (const [key, value] of writes) {
    const id = keyOf(key)
    next = RedBlackTree.removeFirst(next, id)
    if (value !== null) next = RedBlackTree.insert(next, id, value)
  }
  return next
}

/** Entries of `tree` in `range`, in key order. */
export const scanTree = (tree: Tree, range: ScanRange): Array<[Buffer, Buffer]> => {
  const entries = range.gte !== undefined
    ? RedBlackTree.greaterThanEqual(tree, keyOf(range.gte))
    : range.gt !== undefined
    ? RedBlackTree.greaterThan(tree, keyOf(range.gt))
    : tree
  const end = range.lt === undefined ? undefined : keyOf(range.lt)
  const limit = range.limit ?? Number.POSITIVE_INFINITY
  const out: Array<[Buffer, Buffer]> = []
  for (const [key, value] of entries) {
    if (out.length >= limit || (end !== undefined && key >= end)) break
    out.push([Buffer.from(key, "latin1"), value])
  }
  return out
}

interface TreeView {
  readonly tree: Tree
}

const treeOf = (view: ReadView | undefined, current: Tree): Tree =>
  view === undefined ? current : (view as unknown as TreeView).tree

/**
 * A store starting from `initial`; `onWrite` sees each batch after it applied (the simulated
 * disk journals them). `current` is the tree as of the last write.
 */
export const makeTreeStore = (
  initial: Tree = emptyTree,
  onWrite: (writes: ReadonlyArray<Write>) => void = () => {}
): Store & { readonly current: () => Tree } => {
  let tree = initial
  return {
    current: () => tree,
    peek: (key, view) => Option.getOrUndefined(RedBlackTree.findFirst(treeOf(view, tree), keyOf(key))),
    scan: (range, view) => Effect.sync(() => scanTree(treeOf(view, tree), range)),
    scanNow: (range, view) => scanTree(treeOf(view, tree), range),
    scanKeys: (range) => Effect.sync(() => scanTree(tree, range).map(([key]) => key)),
    write: (writes) =>
      Effect.sync(() => {
        const batch = [...writes]
        tree = applyWrites(tree, batch)
        onWrite(batch)
      }),
    // Durable as soon as written (a simulated disk decides otherwise: src/sim/disk.ts).
    flush: Effect.void,
    withView: (use) => Effect.suspend(() => use({ tree } as unknown as ReadView))
  }
}
