/**
 * Which strings may name a directory entry. Checked when a command is applied as well as
 * when it is proposed, because commands arrive off the wire.
 */
import { InvalidArgument } from "../../src/domain/errors.ts"
import { MAX_NAME_BYTES } from "../../src/domain/fs.ts"

// A lone surrogate has no UTF-8 form: the stored name would read back as a different string.
const LONE_SURROGATE = /\p{Cs}/u

/** Why `name` cannot be an entry name, or undefined when it can. */
export const nameProblem = (name: string): string | undefined => {
  if (name.length === 0) return "name is empty"
  if (name === "." || name === "..") return `name "${name}" is reserved`
  if (name.includes("/")) return "name contains '/'"
  if (name.includes("\0")) return "name contains NUL"
  if (LONE_SURROGATE.test(name)) return "name is not valid Unicode"
  if (Buffer.byteLength(name, "utf8") > MAX_NAME_BYTES) return `name is longer than ${MAX_NAME_BYTES} bytes`
  return undefined
}

/** Throws InvalidArgument when `name` cannot be an entry name. */
export const validateName = (name: string): void => {
  const problem = nameProblem(name)
  if (problem !== undefined) throw new InvalidArgument({ message: problem, path: name })
}
