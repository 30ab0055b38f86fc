/**
 * The sequential specification the history is checked against: a POSIX-like tree of paths,
 * each a directory or a file with modelled bytes. The root always exists. `apply` is pure and
 * deterministic: the result of one operation in one state.
 *
 * Errors are compared by kind. NotFound and AlreadyExists are exact (the consistency contract's
 * ENOENT/EEXIST); the type and shape refusals (IsADirectory, NotADirectory, NotEmpty,
 * InvalidArgument, PermissionDenied) form one kind, because the order in which an
 * implementation checks them is not part of the contract. When several checks fail, every one
 * of their kinds is an acceptable answer.
 */
import type { Content, Operation } from "../history.ts"
import { type FileData, fileKey, fromContent, pwrite, truncate } from "./fileData.ts"

export type FsNode = { readonly type: "directory" } | { readonly type: "file"; readonly data: FileData }

/**
 * What an operation in flight resolved its path to (see handles.ts): the file's current path
 * (renames carry it along), "dead" once the file was unlinked or replaced, "failed" when the
 * resolution itself failed.
 */
export type Handle = { readonly path: string } | "dead" | "failed"

export interface FsState {
  readonly nodes: ReadonlyMap<string, FsNode>
  /** Handles of operations that resolved their path and have not acted yet, by operation. */
  readonly handles: ReadonlyMap<number, Handle>
  /** Canonical text of the state: equal states have equal keys. */
  readonly key: string
}

export type ErrorKind = "NotFound" | "AlreadyExists" | "Refused"

const REFUSALS = new Set(["IsADirectory", "NotADirectory", "NotEmpty", "InvalidArgument", "PermissionDenied"])

/** The kind of a `fail` error tag, or undefined for errors that say nothing about the namespace (Conflict, Unavailable, ...). */
export const errorKind = (tag: string): ErrorKind | undefined =>
  tag === "NotFound" || tag === "AlreadyExists" ? tag : REFUSALS.has(tag) ? "Refused" : undefined

export type Applied =
  | {
    readonly _tag: "Ok"
    readonly state: FsState
    /** What a read returned: the file's bytes. */
    readonly file?: FileData
    /** What a readdir returned, sorted. */
    readonly names?: ReadonlyArray<string>
  }
  | { readonly _tag: "Err"; readonly kinds: ReadonlySet<ErrorKind> }

/**
 * Keys are the search's hot path (every state a step makes is keyed), so the parts that do not
 * change are not rebuilt: states are immutable, a file's key is computed once per FileData, and
 * the namespace's once per nodes map (a step that only moves a handle keeps the map).
 */
const fileKeys = new WeakMap<FileData, string>()
const namespaceKeys = new WeakMap<ReadonlyMap<string, FsNode>, string>()

const nodeKey = (node: FsNode): string => {
  if (node.type === "directory") return "d"
  let key = fileKeys.get(node.data)
  if (key === undefined) {
    key = `f${fileKey(node.data)}`
    fileKeys.set(node.data, key)
  }
  return key
}

const namespaceKey = (nodes: ReadonlyMap<string, FsNode>): string => {
  let key = namespaceKeys.get(nodes)
  if (key === undefined) {
    key = [...nodes.keys()].sort().map((path) => `${path}=${nodeKey(nodes.get(path)!)}`).join(";")
    namespaceKeys.set(nodes, key)
  }
  return key
}

const handleKey = (handle: Handle): string => (typeof handle === "string" ? handle : `@${handle.path}`)

const noHandles: ReadonlyMap<number, Handle> = new Map()

export const makeState = (nodes: ReadonlyMap<string, FsNode>, handles: ReadonlyMap<number, Handle> = noHandles): FsState => ({
  nodes,
  handles,
  key: namespaceKey(nodes) +
    (handles.size === 0 ? "" : "|" + [...handles.keys()].sort((a, b) => a - b).map((id) => `${id}:${handleKey(handles.get(id)!)}`).join(";"))
})

export const emptyState: FsState = makeState(new Map())

/** `state` with handle `id` set, or removed when `handle` is undefined. */
export const withHandle = (state: FsState, id: number, handle: Handle | undefined): FsState => {
  const handles = new Map(state.handles)
  if (handle === undefined) handles.delete(id)
  else handles.set(id, handle)
  return makeState(state.nodes, handles)
}

/** Handles after a change of the namespace: `move` maps a file's path to its new one, or to undefined when the file is gone. */
const movedHandles = (handles: ReadonlyMap<number, Handle>, move: (path: string) => string | undefined): ReadonlyMap<number, Handle> => {
  if (handles.size === 0) return handles
  const out = new Map<number, Handle>()
  for (const [id, handle] of handles) {
    if (typeof handle === "string") out.set(id, handle)
    else {
      const path = move(handle.path)
      out.set(id, path === undefined ? "dead" : path === handle.path ? handle : { path })
    }
  }
  return out
}

/** "/a/b" -> "/a"; "/a" -> "/". */
export const parentOf = (path: string): string => {
  const at = path.lastIndexOf("/")
  return at <= 0 ? "/" : path.slice(0, at)
}

export const nameOf = (path: string): string => path.slice(path.lastIndexOf("/") + 1)

/** Proper ancestors, nearest first, without the root. */
export const ancestorsOf = (path: string): Array<string> => {
  const out: Array<string> = []
  for (let p = parentOf(path); p !== "/"; p = parentOf(p)) out.push(p)
  return out
}

export const isWithin = (path: string, directory: string): boolean =>
  directory === "/" ? path !== "/" : path.startsWith(directory + "/")

const lookup = (state: FsState, path: string): FsNode | undefined =>
  path === "/" ? { type: "directory" } : state.nodes.get(path)

const childrenOf = (state: FsState, path: string): Array<string> =>
  [...state.nodes.keys()].filter((p) => p !== "/" && parentOf(p) === path).map(nameOf).sort()

const parentKinds = (state: FsState, path: string, kinds: Set<ErrorKind>): void => {
  if (path === "/") return
  const parent = lookup(state, parentOf(path))
  if (parent === undefined) kinds.add("NotFound")
  else if (parent.type === "file") kinds.add("Refused")
}

const withNode = (state: FsState, path: string, node: FsNode | undefined): FsState => {
  const nodes = new Map(state.nodes)
  if (node === undefined) nodes.delete(path)
  else nodes.set(path, node)
  // A removed file takes the handles on it with it; a changed one keeps them (same inode).
  const handles = node === undefined ? movedHandles(state.handles, (p) => (p === path ? undefined : p)) : state.handles
  return makeState(nodes, handles)
}

const file = (data: FileData): FsNode => ({ type: "file", data })

const refusedOr = (kinds: Set<ErrorKind>, ok: () => Applied): Applied => (kinds.size > 0 ? { _tag: "Err", kinds } : ok())

const rename = (state: FsState, from: string, to: string): Applied => {
  const kinds = new Set<ErrorKind>()
  parentKinds(state, from, kinds)
  parentKinds(state, to, kinds)
  const source = lookup(state, from)
  const target = lookup(state, to)
  if (source === undefined) kinds.add("NotFound")
  if (from === "/" || to === "/" || isWithin(to, from)) kinds.add("Refused")
  if (source !== undefined && target !== undefined && from !== to) {
    if (source.type !== target.type) kinds.add("Refused")
    else if (target.type === "directory" && childrenOf(state, to).length > 0) kinds.add("Refused")
  }
  return refusedOr(kinds, () => {
    if (from === to) return { _tag: "Ok", state }
    const nodes = new Map<string, FsNode>()
    for (const [path, node] of state.nodes) {
      if (path === to) continue
      nodes.set(path === from || isWithin(path, from) ? to + path.slice(from.length) : path, node)
    }
    const moved = (path: string): string | undefined =>
      path === to ? undefined : path === from || isWithin(path, from) ? to + path.slice(from.length) : path
    return { _tag: "Ok", state: makeState(nodes, movedHandles(state.handles, moved)) }
  })
}

/** The outcome of `op` in `state`. */
export const apply = (state: FsState, op: Operation): Applied => {
  const kinds = new Set<ErrorKind>()
  const node = lookup(state, op.path)
  switch (op.f) {
    case "rename":
      return rename(state, op.path, op.to)
    case "write":
      parentKinds(state, op.path, kinds)
      if (node?.type === "directory") kinds.add("Refused")
      return refusedOr(kinds, () => ({ _tag: "Ok", state: withNode(state, op.path, file(fromContent(op.content))) }))
    case "create":
    case "mkdir":
      parentKinds(state, op.path, kinds)
      if (node !== undefined) kinds.add("AlreadyExists")
      return refusedOr(kinds, () => ({
        _tag: "Ok",
        state: withNode(state, op.path, op.f === "mkdir" ? { type: "directory" } : file(fromContent(null)))
      }))
    default:
      break
  }
  // The rest act on an existing path.
  parentKinds(state, op.path, kinds)
  if (node === undefined) kinds.add("NotFound")
  switch (op.f) {
    case "read":
      if (node?.type === "directory") kinds.add("Refused")
      return refusedOr(kinds, () => ({ _tag: "Ok", state, file: (node as Extract<FsNode, { type: "file" }>).data }))
    case "unlink":
      if (node?.type === "directory") kinds.add("Refused")
      return refusedOr(kinds, () => ({ _tag: "Ok", state: withNode(state, op.path, undefined) }))
    case "rmdir":
      if (op.path === "/" || node?.type === "file") kinds.add("Refused")
      else if (node !== undefined && childrenOf(state, op.path).length > 0) kinds.add("Refused")
      return refusedOr(kinds, () => ({ _tag: "Ok", state: withNode(state, op.path, undefined) }))
    case "truncate":
      if (node?.type === "directory" || op.size < 0) kinds.add("Refused")
      return refusedOr(kinds, () => ({
        _tag: "Ok",
        state: withNode(state, op.path, file(truncate((node as Extract<FsNode, { type: "file" }>).data, op.size)))
      }))
    case "pwrite":
      if (node?.type === "directory" || op.offset < 0 || op.length < 0) kinds.add("Refused")
      return refusedOr(kinds, () => ({
        _tag: "Ok",
        state: withNode(
          state,
          op.path,
          file(pwrite((node as Extract<FsNode, { type: "file" }>).data, op.offset, op.seed, op.length))
        )
      }))
    case "readdir":
      if (node?.type === "file") kinds.add("Refused")
      return refusedOr(kinds, () => ({ _tag: "Ok", state, names: childrenOf(state, op.path) }))
    case "append":
      // The append-only log lies outside the model (check/exactlyOnce.ts checks it).
      throw new Error("the namespace model does not apply appends")
  }
}

/** Content written by a whole-file write, for messages. */
export const describeContent = (content: Content): string =>
  content === null ? "empty" : `{seed ${content.seed}, length ${content.length}}`
