/**
 * Path handling on the client. Paths are absolute in the Sandstore namespace (a relative path is
 * taken from the root); `.` and empty components are dropped and `..` is resolved lexically, so
 * no `..` ever reaches a node as a literal name.
 */
import { Effect } from "effect"
import { InvalidArgument } from "../domain/errors.ts"

/** The components of `path` after normalization; the root is the empty array. */
export const components = (path: string): ReadonlyArray<string> => {
  const out: Array<string> = []
  for (const part of path.split("/")) {
    if (part === "" || part === ".") continue
    if (part === "..") out.pop()
    else out.push(part)
  }
  return out
}

/** The canonical form of `path`: "/" or "/a/b". */
export const normalize = (path: string): string => "/" + components(path).join("/")

export interface ParentAndName {
  readonly parent: string
  readonly name: string
}

/** Splits a path into its parent directory and last name; the root has neither. */
export const parentAndName = (path: string): Effect.Effect<ParentAndName, InvalidArgument> => {
  const parts = components(path)
  if (parts.length === 0) {
    return Effect.fail(new InvalidArgument({ message: "the root directory has no parent", path }))
  }
  return Effect.succeed({ parent: "/" + parts.slice(0, -1).join("/"), name: parts[parts.length - 1]! })
}

/** `name` inside directory `dir`. */
export const join = (dir: string, name: string): string => normalize(`${dir}/${name}`)
