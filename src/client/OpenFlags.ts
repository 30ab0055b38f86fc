/**
 * open(2) flags: node's string forms ("r", "w+", "wx", "a", ...) and the numeric O_* bits (Linux
 * values, the same as node's `fs.constants` there), both parsed into one record.
 */
import { Effect } from "effect"
import { InvalidArgument } from "../domain/errors.ts"

export const O_RDONLY = 0
export const O_WRONLY = 1
export const O_RDWR = 2
export const O_CREAT = 0o100
export const O_EXCL = 0o200
export const O_TRUNC = 0o1000
export const O_APPEND = 0o2000

/** access(2) mode: existence only. R_OK, W_OK and X_OK are in the domain. */
export const F_OK = 0

const ACCESS_MODE_MASK = 3
const KNOWN_BITS = ACCESS_MODE_MASK | O_CREAT | O_EXCL | O_TRUNC | O_APPEND

export type OpenFlagString = "r" | "r+" | "w" | "w+" | "wx" | "wx+" | "a" | "a+" | "ax" | "ax+"

const stringFlags: Record<OpenFlagString, number> = {
  "r": O_RDONLY,
  "r+": O_RDWR,
  "w": O_WRONLY | O_CREAT | O_TRUNC,
  "w+": O_RDWR | O_CREAT | O_TRUNC,
  "wx": O_WRONLY | O_CREAT | O_TRUNC | O_EXCL,
  "wx+": O_RDWR | O_CREAT | O_TRUNC | O_EXCL,
  "a": O_WRONLY | O_CREAT | O_APPEND,
  "a+": O_RDWR | O_CREAT | O_APPEND,
  "ax": O_WRONLY | O_CREAT | O_APPEND | O_EXCL,
  "ax+": O_RDWR | O_CREAT | O_APPEND | O_EXCL
}

export interface OpenFlags {
  readonly read: boolean
  readonly write: boolean
  readonly create: boolean
  readonly exclusive: boolean
  readonly truncate: boolean
  readonly append: boolean
}

export const parseOpenFlags = (flags: OpenFlagString | number | string): Effect.Effect<OpenFlags, InvalidArgument> => {
  const bits = typeof flags === "number" ? flags : stringFlags[flags as OpenFlagString]
  // Built only when needed: an error captures a stack trace, which costs more than the parse.
  const invalid = () => Effect.fail(new InvalidArgument({ message: `invalid open flags: ${String(flags)}` }))
  if (bits === undefined || !Number.isInteger(bits) || bits < 0 || (bits & ~KNOWN_BITS) !== 0) return invalid()
  const accessMode = bits & ACCESS_MODE_MASK
  if (accessMode === ACCESS_MODE_MASK) return invalid()
  return Effect.succeed({
    read: accessMode === O_RDONLY || accessMode === O_RDWR,
    write: accessMode === O_WRONLY || accessMode === O_RDWR,
    create: (bits & O_CREAT) !== 0,
    exclusive: (bits & O_EXCL) !== 0,
    truncate: (bits & O_TRUNC) !== 0,
    append: (bits & O_APPEND) !== 0
  })
}
