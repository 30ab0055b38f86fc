/**
 * The state transition of each metadata command. A command reads and stages writes in a
 * transaction and updates the counters; it throws a namespace error (an outcome, decided here
 * at apply time from the state alone) before or after staging, and the caller then drops
 * everything it staged. Nothing here depends on the applying node, and nothing yields: a
 * transition is a plain function over synchronous reads (tables.ts), run start to end.
 */
import type { Types } from "effect"
import {
  type ChunkUpdate, type CommandResult, type CommitWrite, type Create, type ForgetGarbage, type MetadataCommand, type Mkdir,
  type MoveReplica,
  type Rename, type Rmdir, type SetAttr, type Unlink
} from "../../src/domain/commands.ts"
import {
  AlreadyExists, Conflict, Corruption, InvalidArgument, IsADirectory, NotADirectory, NotEmpty, NotFound
} from "../../src/domain/errors.ts"
import { type ChunkRef, ROOT_INODE } from "../../src/domain/fs.ts"
import { parseVersionId } from "../../src/domain/versionId.ts"
import * as Keys from "./keys.ts"
import { validateName } from "./names.ts"
import { type InodeRecord, type MetaRecord, toAttributes } from "./records.ts"
import * as Tables from "./tables.ts"
import type { Transaction } from "./transaction.ts"

export interface CommandContext {
  readonly tx: Transaction
  /** The counters of the state, updated in place; the caller stores them with the entry. */
  readonly meta: Types.Mutable<MetaRecord>
  readonly chunkSize: number
  readonly transactionTtlMillis: number
}

/** What a transition returns; it throws FsError (its outcome) or StoreError (the store failed). */
type Transition = CommandResult

const putInode = (ctx: CommandContext, inode: number, record: InodeRecord): void =>
  ctx.tx.put(Keys.inodeKey(inode), Tables.encodeInode(record))

/** Move a chunk version to the garbage list (once: a version already there stays where it is). */
const addGarbage = (ctx: CommandContext, chunk: ChunkRef) => {
  const versionKey = Keys.garbageByVersionKey(chunk.versionId)
  if (ctx.tx.get(versionKey) !== undefined) return
  const sequence = ctx.meta.nextGarbage++
  ctx.tx.put(Keys.garbageKey(sequence), Tables.encodeChunk(chunk))
  ctx.tx.put(versionKey, Tables.encodeInt(sequence))
}

/** Drop the chunks of `inode` that `drop` selects, moving their versions to garbage. */
const dropChunks = (ctx: CommandContext, inode: number, drop: (chunk: ChunkRef) => boolean) => {
  for (const [key, value] of ctx.tx.scan(Keys.chunkRange(inode))) {
    const chunk = Tables.decodeChunk(value)
    if (!drop(chunk)) continue
    addGarbage(ctx, chunk)
    ctx.tx.del(key)
    ctx.meta.chunks--
  }
}

/** Namespace change in a directory: entry count and link count deltas, times = now. */
const touchDirectory = (record: InodeRecord, entries: number, nlink: number, now: number): InodeRecord => ({
  ...record,
  entries: record.entries + entries,
  nlink: record.nlink + nlink,
  mtime: now,
  ctime: now
})

/** A new empty file or directory named `c.name` in `parent` (checked free by the caller). */
const makeNode = (
  ctx: CommandContext,
  c: typeof Create.Type | typeof Mkdir.Type,
  type: "file" | "directory",
  parent: { readonly inode: number; readonly record: InodeRecord }
): Transition => {
  const inode = ctx.meta.nextInode++
  const record: InodeRecord = {
    type, mode: c.mode, uid: c.uid, gid: c.gid, size: 0, nlink: type === "file" ? 1 : 2,
    atime: c.now, mtime: c.now, ctime: c.now, parent: parent.inode, entries: 0
  }
  putInode(ctx, inode, record)
  ctx.tx.put(Keys.entryKey(parent.inode, c.name), Tables.encodeEntry({ inode, type }))
  // A new directory's ".." is a link to the parent.
  putInode(ctx, parent.inode, touchDirectory(parent.record, 1, type === "file" ? 0 : 1, c.now))
  if (type === "file") ctx.meta.files++
  else ctx.meta.directories++
  return toAttributes(inode, record)
}

const create = (ctx: CommandContext, c: typeof Create.Type): Transition => {
  validateName(c.name)
  const get = ctx.tx.get
  const { inode: parentInode, record: parent } = Tables.requireDirectoryRef(get, c.parent)
  const existing = Tables.readEntry(get, parentInode, c.name)
  if (existing !== undefined) {
    if (c.exclusive) throw new AlreadyExists({ message: `"${c.name}" exists`, path: c.name })
    if (existing.type === "directory") throw new IsADirectory({ message: `"${c.name}" is a directory`, path: c.name })
    return toAttributes(existing.inode, Tables.requireTarget(get, existing))
  }
  return makeNode(ctx, c, "file", { inode: parentInode, record: parent })
}

const mkdir = (ctx: CommandContext, c: typeof Mkdir.Type): Transition => {
  validateName(c.name)
  const get = ctx.tx.get
  const { inode: parentInode, record: parent } = Tables.requireDirectoryRef(get, c.parent)
  if (Tables.readEntry(get, parentInode, c.name) !== undefined) {
    throw new AlreadyExists({ message: `"${c.name}" exists`, path: c.name })
  }
  return makeNode(ctx, c, "directory", { inode: parentInode, record: parent })
}

/** The entry `name` in directory `parent`, which must exist. */
const requireEntry = (ctx: CommandContext, parent: number, name: string) => {
  const entry = Tables.readEntry(ctx.tx.get, parent, name)
  if (entry === undefined) throw new NotFound({ message: `no entry "${name}" in directory ${parent}`, path: name })
  return entry
}

const unlink = (ctx: CommandContext, c: typeof Unlink.Type): Transition => {
  validateName(c.name)
  const { inode: parentInode, record: parent } = Tables.requireDirectoryRef(ctx.tx.get, c.parent)
  const entry = requireEntry(ctx, parentInode, c.name)
  if (entry.type === "directory") throw new IsADirectory({ message: `"${c.name}" is a directory`, path: c.name })
  const target = Tables.requireTarget(ctx.tx.get, entry)
  removeFile(ctx, entry.inode, target)
  ctx.tx.del(Keys.entryKey(parentInode, c.name))
  putInode(ctx, parentInode, touchDirectory(parent, -1, 0, c.now))
  return null
}

/** Delete a file's inode; its chunk versions become garbage. */
const removeFile = (ctx: CommandContext, inode: number, record: InodeRecord) => {
  dropChunks(ctx, inode, () => true)
  ctx.tx.del(Keys.inodeKey(inode))
  ctx.meta.files--
  ctx.meta.bytes -= record.size
}

const rmdir = (ctx: CommandContext, c: typeof Rmdir.Type): Transition => {
  validateName(c.name)
  const { inode: parentInode, record: parent } = Tables.requireDirectoryRef(ctx.tx.get, c.parent)
  const entry = requireEntry(ctx, parentInode, c.name)
  if (entry.type !== "directory") throw new NotADirectory({ message: `"${c.name}" is not a directory`, path: c.name })
  const target = Tables.requireTarget(ctx.tx.get, entry)
  if (target.entries > 0) throw new NotEmpty({ message: `"${c.name}" is not empty`, path: c.name })
  ctx.tx.del(Keys.inodeKey(entry.inode))
  ctx.tx.del(Keys.entryKey(parentInode, c.name))
  ctx.meta.directories--
  putInode(ctx, parentInode, touchDirectory(parent, -1, -1, c.now))
  return null
}

/** Fails when `directory` is `ancestor` or lies below it (walking the parent pointers up to the root). */
const refuseCycle = (ctx: CommandContext, ancestor: number, directory: number) => {
  let current = directory
  // Each step goes one level up; more steps than directories means the parent chain loops.
  for (let steps = 0; steps <= ctx.meta.directories + 1; steps++) {
    if (current === ancestor) {
      throw new InvalidArgument({ message: `cannot move directory ${ancestor} into its own subtree` })
    }
    if (current === ROOT_INODE) return
    current = (Tables.requireInode(ctx.tx.get, current)).parent
  }
  throw new Corruption({ message: `metadata store: parent chain of inode ${directory} does not reach the root` })
}

const rename = (ctx: CommandContext, c: typeof Rename.Type): Transition => {
  validateName(c.srcName)
  validateName(c.dstName)
  const get = ctx.tx.get
  const { inode: srcParent, record: srcDir } = Tables.requireDirectoryRef(get, c.srcParent)
  const { inode: dstParent, record: dstDir } = Tables.requireDirectoryRef(get, c.dstParent)
  const source = requireEntry(ctx, srcParent, c.srcName)
  if (srcParent === dstParent && c.srcName === c.dstName) return null
  const moved = Tables.requireTarget(get, source)
  const movesDirectory = source.type === "directory"
  if (movesDirectory) refuseCycle(ctx, source.inode, dstParent)

  // Entry and link count changes per parent directory, summed when both are the same.
  const deltas = new Map<number, { entries: number; nlink: number }>([
    [srcParent, { entries: 0, nlink: 0 }],
    [dstParent, { entries: 0, nlink: 0 }]
  ])
  const change = (inode: number, entries: number, nlink: number) => {
    const delta = deltas.get(inode)!
    delta.entries += entries
    delta.nlink += nlink
  }

  const replaced = Tables.readEntry(get, dstParent, c.dstName)
  if (replaced !== undefined) {
    if (replaced.inode === source.inode) return null
    if (movesDirectory && replaced.type === "file") {
      throw new NotADirectory({ message: `"${c.dstName}" is not a directory`, path: c.dstName })
    }
    if (!movesDirectory && replaced.type === "directory") {
      throw new IsADirectory({ message: `"${c.dstName}" is a directory`, path: c.dstName })
    }
    const target = Tables.requireTarget(get, replaced)
    if (replaced.type === "directory") {
      if (target.entries > 0) throw new NotEmpty({ message: `"${c.dstName}" is not empty`, path: c.dstName })
      ctx.tx.del(Keys.inodeKey(replaced.inode))
      ctx.meta.directories--
      change(dstParent, -1, -1)
    } else {
      removeFile(ctx, replaced.inode, target)
      change(dstParent, -1, 0)
    }
  }

  ctx.tx.del(Keys.entryKey(srcParent, c.srcName))
  ctx.tx.put(Keys.entryKey(dstParent, c.dstName), Tables.encodeEntry(source))
  change(srcParent, -1, movesDirectory ? -1 : 0)
  change(dstParent, 1, movesDirectory ? 1 : 0)
  putInode(ctx, source.inode, { ...moved, parent: dstParent, ctime: c.now })
  for (const [inode, delta] of deltas) {
    putInode(ctx, inode, touchDirectory(inode === srcParent ? srcDir : dstDir, delta.entries, delta.nlink, c.now))
  }
  return null
}

/** Shrink a file to `size`: chunks past it become garbage, the chunk holding the new end is shortened. */
const truncateChunks = (ctx: CommandContext, inode: number, size: number) => {
  dropChunks(ctx, inode, (chunk) => chunk.index * ctx.chunkSize >= size)
  for (const [key, value] of ctx.tx.scan(Keys.chunkRange(inode))) {
    const chunk = Tables.decodeChunk(value)
    const start = chunk.index * ctx.chunkSize
    if (start + chunk.length > size) ctx.tx.put(key, Tables.encodeChunk({ ...chunk, length: size - start }))
  }
}

const setAttr = (ctx: CommandContext, c: typeof SetAttr.Type): Transition => {
  const current = Tables.requireInode(ctx.tx.get, c.inode)
  const changes = c.changes
  let record: InodeRecord = current
  if (changes.size !== undefined) {
    if (current.type === "directory") throw new IsADirectory({ message: `inode ${c.inode} is a directory` })
    if (!Number.isSafeInteger(changes.size) || changes.size < 0) {
      throw new InvalidArgument({ message: `invalid size ${changes.size}` })
    }
    if (changes.size !== current.size) {
      if (changes.size < current.size) truncateChunks(ctx, c.inode, changes.size)
      ctx.meta.bytes += changes.size - current.size
      record = { ...record, size: changes.size, mtime: c.now }
    }
  }
  // An explicit mtime wins over the one a size change implies (as utimes after truncate).
  record = {
    ...record,
    mode: changes.mode ?? record.mode,
    uid: changes.uid ?? record.uid,
    gid: changes.gid ?? record.gid,
    atime: changes.atime ?? record.atime,
    mtime: changes.mtime ?? record.mtime,
    ctime: c.now
  }
  putInode(ctx, c.inode, record)
  return toAttributes(c.inode, record)
}

/** Why an update cannot be part of a write ending at `end`, or undefined. */
const updateProblem = (ctx: CommandContext, update: ChunkUpdate, end: number): string | undefined => {
  const chunk = update.chunk
  if (!Number.isSafeInteger(chunk.index) || chunk.index < 0 || chunk.index > Keys.MAX_CHUNK_INDEX) {
    return `invalid chunk index ${chunk.index}`
  }
  if (chunk.index * ctx.chunkSize >= end) return `chunk ${chunk.index} lies past the write's end ${end}`
  if (chunk.versionId.length === 0) return `chunk ${chunk.index} has an empty version id`
  if (!(chunk.length >= 0 && chunk.length <= chunk.storedLength && chunk.storedLength <= ctx.chunkSize)) {
    return `chunk ${chunk.index} lengths ${chunk.length}/${chunk.storedLength} do not fit chunk size ${ctx.chunkSize}`
  }
  return undefined
}

const commitWrite = (ctx: CommandContext, c: typeof CommitWrite.Type): Transition => {
  const get = ctx.tx.get
  const file = Tables.requireFile(get, c.inode)
  if (!Number.isSafeInteger(c.end) || c.end < 0) throw new InvalidArgument({ message: `invalid end ${c.end}` })
  if (c.expectedSize !== undefined && c.expectedSize !== file.size) {
    throw new Conflict({ message: `append planned at size ${c.expectedSize}, but inode ${c.inode} is now ${file.size} bytes` })
  }
  const indices = new Set<number>()
  for (const update of c.updates) {
    const problem = updateProblem(ctx, update, c.end)
    if (problem !== undefined) throw new InvalidArgument({ message: problem })
    if (indices.has(update.chunk.index)) {
      throw new InvalidArgument({ message: `chunk ${update.chunk.index} is updated twice` })
    }
    indices.add(update.chunk.index)
    // A collected version may already be deleted from disk: installing it would lose data.
    if (get(Keys.garbageByVersionKey(update.chunk.versionId)) !== undefined) {
      throw new InvalidArgument({ message: `chunk version ${update.chunk.versionId} is garbage` })
    }
  }
  for (const update of c.updates) {
    // An expired transaction may have had its staged versions collected as orphans.
    const minted = parseVersionId(update.chunk.versionId)
    if (minted !== null && ctx.meta.clock - minted.createdAt > ctx.transactionTtlMillis) {
      throw new Conflict({
        message: `write transaction ${c.txId} expired: chunk version ${update.chunk.versionId} is older than ` +
          `${ctx.transactionTtlMillis} ms`
      })
    }
  }
  const size = Math.max(file.size, c.end)
  for (const update of c.updates) {
    const current = Tables.readChunk(get, c.inode, update.chunk.index)
    if ((current?.versionId ?? null) !== update.expectedVersionId || (current?.length ?? 0) !== update.expectedLength) {
      throw new Conflict({
        message: `chunk ${update.chunk.index} of inode ${c.inode} is at version ${current?.versionId ?? "none"} ` +
          `(${current?.length ?? 0} bytes), expected ${update.expectedVersionId ?? "none"} (${update.expectedLength} bytes)`
      })
    }
    // No chunk extends past the size, so a later extension reads zeros, not old bytes.
    const start = update.chunk.index * ctx.chunkSize
    const chunk = { ...update.chunk, length: Math.min(update.chunk.length, size - start) }
    ctx.tx.put(Keys.chunkKey(c.inode, chunk.index), Tables.encodeChunk(chunk))
    if (current === undefined) ctx.meta.chunks++
    else if (current.versionId !== chunk.versionId) addGarbage(ctx, current)
  }
  ctx.meta.bytes += size - file.size
  const record: InodeRecord = { ...file, size, mtime: c.now, ctime: c.now }
  putInode(ctx, c.inode, record)
  return toAttributes(c.inode, record)
}

const forgetGarbage = (ctx: CommandContext, c: typeof ForgetGarbage.Type): Transition => {
  for (const versionId of c.versionIds) {
    const versionKey = Keys.garbageByVersionKey(versionId)
    const stored = ctx.tx.get(versionKey)
    if (stored === undefined) continue
    ctx.tx.del(Keys.garbageKey(Tables.decodeInt(stored)))
    ctx.tx.del(versionKey)
  }
  return null
}

const moveReplica = (ctx: CommandContext, c: typeof MoveReplica.Type): Transition => {
  const current = Tables.readChunk(ctx.tx.get, c.inode, c.index)
  if (current === undefined || current.versionId !== c.versionId) return null
  if (!current.nodes.includes(c.from) || current.nodes.includes(c.to)) return null
  const nodes = current.nodes.map((node) => (node === c.from ? c.to : node))
  ctx.tx.put(Keys.chunkKey(c.inode, c.index), Tables.encodeChunk({ ...current, nodes }))
  return null
}

/** The proposer's time a command carries (0 for those without one): it advances the state's clock. */
export const commandTime = (command: MetadataCommand): number =>
  "now" in command && command.now !== undefined ? command.now : 0

export const applyCommand = (ctx: CommandContext, command: MetadataCommand): Transition => {
  switch (command._tag) {
    case "Create":
      return create(ctx, command)
    case "Mkdir":
      return mkdir(ctx, command)
    case "Unlink":
      return unlink(ctx, command)
    case "Rmdir":
      return rmdir(ctx, command)
    case "Rename":
      return rename(ctx, command)
    case "SetAttr":
      return setAttr(ctx, command)
    case "CommitWrite":
      return commitWrite(ctx, command)
    case "ForgetGarbage":
      return forgetGarbage(ctx, command)
    case "MoveReplica":
      return moveReplica(ctx, command)
    case "Noop":
      return null
    case "OpenSession":
    case "CloseSession":
      throw new Error(`${command._tag} acts on the session table (sessions.ts), not the namespace`)
  }
}
