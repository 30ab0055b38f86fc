/**
 * Key layout of the metadata store. Every key starts with one tag byte, so each table is a
 * contiguous byte range; integers are big-endian so byte order is numeric order. Directory
 * entries are keyed by (parent, UTF-8 name), which makes readdir a range scan in byte order.
 */
import type { SessionId } from "../../src/domain/session.ts"

const SESSION_ID_BYTES = 16

/** Tag bytes, one per table. */
const META = 0x4d // "M": the single meta record (applied index, counters)
const INODE = 0x49 // "I" + u64 inode
const ENTRY = 0x44 // "D" + u64 parent + name
const CHUNK = 0x43 // "C" + u64 inode + u32 chunk index
const GARBAGE = 0x47 // "G" + u64 sequence: unreferenced chunk versions, oldest first
const GARBAGE_BY_VERSION = 0x56 // "V" + version id -> garbage sequence
const SESSION = 0x53 // "S" + 16-byte session id -> its last activity and acknowledged horizon
const REPLY = 0x52 // "R" + 16-byte session id + u64 sequence -> the request's recorded outcome
const SESSION_ACTIVITY = 0x45 // "E" + u64 last activity + 16-byte session id: sessions oldest first (expiry)
const RESTORING = 0x00 // the restore marker below: no table, sorts before all of them

/** The largest chunk index a key can hold. */
export const MAX_CHUNK_INDEX = 0xffff_ffff

const U32 = 0x1_0000_0000

const writeU64 = (buffer: Buffer, offset: number, value: number): void => {
  buffer.writeUInt32BE(Math.floor(value / U32), offset)
  buffer.writeUInt32BE(value % U32, offset + 4)
}

const tagged = (tag: number, id: number): Buffer => {
  const key = Buffer.allocUnsafe(9)
  key[0] = tag
  writeU64(key, 1, id)
  return key
}

const taggedString = (tag: number, text: string): Buffer => {
  const bytes = Buffer.from(text, "utf8")
  const key = Buffer.allocUnsafe(1 + bytes.length)
  key[0] = tag
  bytes.copy(key, 1)
  return key
}

export interface KeyRange {
  readonly gte: Buffer
  readonly lt: Buffer
}

export const metaKey: Buffer = Buffer.from([META])

/**
 * Present only while a snapshot restore is replacing the store (namespace.ts): a store that
 * holds it was left midway and reopens empty. No record uses its tag and every table scan is
 * bounded by its own tag, so no query sees it; snapshots refuse to carry it.
 */
export const restoreMarkerKey: Buffer = Buffer.concat([Buffer.from([RESTORING]), Buffer.from("restoring", "latin1")])

export const isRestoreMarker = (key: Buffer): boolean => key[0] === RESTORING && key.equals(restoreMarkerKey)

export const inodeKey = (inode: number): Buffer => tagged(INODE, inode)

export const entryKey = (parent: number, name: string): Buffer => {
  const bytes = Buffer.from(name, "utf8")
  const key = Buffer.allocUnsafe(9 + bytes.length)
  key[0] = ENTRY
  writeU64(key, 1, parent)
  bytes.copy(key, 9)
  return key
}

export const entryRange = (parent: number): KeyRange => ({ gte: tagged(ENTRY, parent), lt: tagged(ENTRY, parent + 1) })

export const entryName = (key: Buffer): string => key.toString("utf8", 9)

export const chunkKey = (inode: number, index: number): Buffer => {
  const key = Buffer.allocUnsafe(13)
  key[0] = CHUNK
  writeU64(key, 1, inode)
  key.writeUInt32BE(index, 9)
  return key
}

export const chunkRange = (inode: number): KeyRange => ({ gte: tagged(CHUNK, inode), lt: tagged(CHUNK, inode + 1) })

export const chunkIndex = (key: Buffer): number => key.readUInt32BE(9)

/** Every chunk of every file, in (inode, index) order. */
export const allChunksRange: KeyRange = { gte: Buffer.from([CHUNK]), lt: Buffer.from([CHUNK + 1]) }

export const chunkInode = (key: Buffer): number => key.readUInt32BE(1) * U32 + key.readUInt32BE(5)

export const garbageKey = (sequence: number): Buffer => tagged(GARBAGE, sequence)

export const garbageRange: KeyRange = { gte: Buffer.from([GARBAGE]), lt: Buffer.from([GARBAGE + 1]) }

export const garbageByVersionKey = (versionId: string): Buffer => taggedString(GARBAGE_BY_VERSION, versionId)

/** The 16 bytes of `session` written into `key` at `offset`, without a Buffer of their own. */
const writeSessionId = (key: Buffer, offset: number, session: SessionId): void => {
  if (session.length !== 2 * SESSION_ID_BYTES || key.write(session, offset, SESSION_ID_BYTES, "hex") !== SESSION_ID_BYTES) {
    throw new Error(`session id ${JSON.stringify(session)} is not ${SESSION_ID_BYTES} bytes of hex`)
  }
}

export const sessionKey = (session: SessionId): Buffer => {
  const key = Buffer.allocUnsafe(1 + SESSION_ID_BYTES)
  key[0] = SESSION
  writeSessionId(key, 1, session)
  return key
}

export const replyKey = (session: SessionId, seq: number): Buffer => {
  const key = Buffer.allocUnsafe(25)
  key[0] = REPLY
  writeSessionId(key, 1, session)
  writeU64(key, 17, seq)
  return key
}

/** Recorded replies of `session` with sequence numbers in [from, to). */
export const replyRange = (session: SessionId, from: number, to: number): KeyRange => ({
  gte: replyKey(session, from),
  lt: replyKey(session, to)
})

export const sessionActivityKey = (lastActive: number, session: SessionId): Buffer => {
  const key = Buffer.allocUnsafe(25)
  key[0] = SESSION_ACTIVITY
  writeU64(key, 1, Math.max(0, Math.floor(lastActive)))
  writeSessionId(key, 9, session)
  return key
}

/** Sessions last active before `time`, oldest first. */
export const sessionsActiveBefore = (time: number): KeyRange => ({
  gte: Buffer.from([SESSION_ACTIVITY]),
  lt: tagged(SESSION_ACTIVITY, Math.max(0, Math.floor(time)))
})

/** The session id in a session-activity key. */
export const activitySession = (key: Buffer): SessionId => key.toString("hex", 9, 25) as SessionId
