/**
 * A copy of `bytes` in memory of its own. `Uint8Array.prototype.slice` zero-fills the new
 * buffer before copying into it; for an 8 MiB piece that is a second pass over memory the
 * copy overwrites anyway, about a tenth of a writing client's CPU.
 */
import { unfilledBytes } from "./unfilledBytes.ts"

export const copyBytes = (bytes: Uint8Array): Uint8Array => {
  const copy = unfilledBytes(bytes.length)
  copy.set(bytes)
  return copy
}
