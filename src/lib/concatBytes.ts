/** The parts as one array (the part itself when there is only one); `total` is their summed length if known. */
export const concatBytes = (
  parts: ReadonlyArray<Uint8Array>,
  total: number = parts.reduce((sum, part) => sum + part.length, 0)
): Uint8Array => {
  if (parts.length === 1) return parts[0]!
  const out = new Uint8Array(total)
  let at = 0
  for (const part of parts) {
    out.set(part, at)
    at += part.length
  }
  return out
}
