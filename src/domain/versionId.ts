/**
 * Chunk version ids name what they are a version of and when they were minted:
 * `<inode>-<index>-<millis>-<random>` (numbers in base 36). A node holding a version can thus
 * ask the metadata whether that exact version is still referenced, and a version that is not
 * referenced and is older than every transaction's deadline is provably an orphan.
 */
export interface VersionIdParts {
  readonly inode: number
  readonly index: number
  readonly createdAt: number
  readonly nonce: string
}

/** `createdAt` is floored to whole milliseconds: a clock with sub-millisecond precision must not put a '.' in an id. */
export const formatVersionId = (parts: VersionIdParts): string =>
  `${parts.inode.toString(36)}-${parts.index.toString(36)}-${Math.floor(parts.createdAt).toString(36)}-${parts.nonce}`

export const parseVersionId = (id: string): VersionIdParts | null => {
  const fields = id.split("-")
  if (fields.length !== 4) return null
  const [inode, index, createdAt, nonce] = fields as [string, string, string, string]
  const parsed = [inode, index, createdAt].map((f) => (/^[0-9a-z]{1,12}$/.test(f) ? parseInt(f, 36) : NaN))
  if (parsed.some((n) => !Number.isSafeInteger(n)) || !/^[0-9a-f]{1,32}$/.test(nonce)) return null
  return { inode: parsed[0]!, index: parsed[1]!, createdAt: parsed[2]!, nonce }
}
