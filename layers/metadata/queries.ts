/**
 * Reads of the applied state. A query that reads more than one key reads them from one store
 * snapshot, so it never sees half of an apply (an entry whose inode is already gone).
 */
import { Effect } from "effect"
import type { CommandOutcome, RequestTag } from "../../src/domain/commands.ts"
import {
  InvalidArgument, type IsADirectory, type NotADirectory, NotFound, PermissionDenied, SessionExpired
} from "../../src/domain/errors.ts"
import type { Attributes, DirEntry, DirEntryPlus, InodeId } from "../../src/domain/fs.ts"
import type { MetadataServiceShape, StoreError } from "../../src/services/MetadataService.ts"
import * as Keys from "./keys.ts"
import { validateName } from "./names.ts"
import { type InodeRecord, toAttributes } from "./records.ts"
import type { SessionSettings } from "./sessions.ts"
import type { ReadView, Store } from "./store.ts"
import * as Tables from "./tables.ts"

export const MAX_READDIR_ENTRIES = 10_000

type Queries = Pick<
  MetadataServiceShape,
  | "getattr" | "lookup" | "lookupPath" | "access" | "readdir" | "readdirplus" | "layout" | "pathLayout" | "writeLayout" | "chunks"
  | "fsstat"
  | "garbage" | "chunkPage"
>

/** Permission bits that grant `mask` to a caller in the class selected by `shift` (6 owner, 3 group, 0 other). */
const granted = (mode: number, shift: number, mask: number): boolean => ((mode >> shift) & mask) === mask

export const makeQueries = (store: Store, sessions: SessionSettings): Queries => {
  const getIn = (view: ReadView): Tables.Get => (key) => store.peek(key, view)
  /** Run `f` against one consistent snapshot of the store (LevelDB writes land from another thread). */
  const consistently = <A, E>(f: (get: Tables.Get, view: ReadView) => Effect.Effect<A, E>) =>
    store.withView((view) => f(getIn(view), view))
  /** `read` (synchronous, throwing the query's typed errors) against one snapshot. */
  const readConsistently = <A, E>(read: (get: Tables.Get) => A) =>
    consistently((get) => Tables.attempt<A, E | StoreError>(() => read(get)))

  const getattr: Queries["getattr"] = (inode) =>
    Tables.attempt(() => toAttributes(inode, Tables.requireInode(store.peek, inode)))

  const lookup: Queries["lookup"] = (parent, name) =>
    readConsistently<Attributes, NotFound | NotADirectory | InvalidArgument>((get) => {
      validateName(name)
      Tables.requireDirectory(get, parent)
      const entry = Tables.readEntry(get, parent, name)
      if (entry === undefined) throw new NotFound({ message: `no entry "${name}" in directory ${parent}`, path: name })
      return toAttributes(entry.inode, Tables.requireTarget(get, entry))
    })

  const lookupPath: Queries["lookupPath"] = (path) =>
    readConsistently<Attributes, NotFound | NotADirectory | InvalidArgument>((get) => {
      const { inode, record } = Tables.resolvePath(get, path)
      return toAttributes(inode, record)
    })

  const access: Queries["access"] = (inode, uid, gid, mask) =>
    Tables.attempt(() => {
      if (!Number.isInteger(mask) || mask < 0 || mask > 7) throw new InvalidArgument({ message: `invalid access mask ${mask}` })
      const record = Tables.requireInode(store.peek, inode)
      const allowed = uid === 0
        // The superuser reads and writes anything; it executes only what someone may execute.
        ? (mask & 1) === 0 || record.type === "directory" || (record.mode & 0o111) !== 0
        : granted(record.mode, uid === record.uid ? 6 : gid === record.gid ? 3 : 0, mask)
      if (!allowed) throw new PermissionDenied({ message: `access ${mask} denied on inode ${inode} for uid ${uid}` })
    })

  /** One page of entries of `inode` after the name `cookie`. */
  const page = (get: Tables.Get, view: ReadView, inode: number, cookie: string | null, max: number) =>
    Effect.gen(function*() {
      if (!Number.isInteger(max) || max < 1 || max > MAX_READDIR_ENTRIES) {
        return yield* new InvalidArgument({ message: `readdir max must be 1..${MAX_READDIR_ENTRIES}, got ${max}` })
      }
      yield* Tables.attempt<InodeRecord, NotFound | NotADirectory | StoreError>(() => Tables.requireDirectory(get, inode))
      const range = Keys.entryRange(inode)
      const start = cookie === null ? { gte: range.gte } : { gt: Keys.entryKey(inode, cookie) }
      const rows = yield* store.scan({ ...start, lt: range.lt, limit: max + 1 }, view)
      const entries = yield* Tables.attempt(() =>
        rows.slice(0, max).map(([key, value]): DirEntry => {
          const entry = Tables.decodeEntry(value)
          return { name: Keys.entryName(key), inode: entry.inode, type: entry.type }
        })
      )
      return { entries, cookie: rows.length > max ? entries[entries.length - 1]!.name : null }
    })

  const readdir: Queries["readdir"] = (inode, cookie, max) =>
    consistently((get, view) => page(get, view, inode, cookie, max))

  const readdirplus: Queries["readdirplus"] = (inode, cookie, max) =>
    consistently((get, view) =>
      Effect.flatMap(page(get, view, inode, cookie, max), ({ cookie: next, entries }) =>
        Tables.attempt(() => ({
          entries: entries.map((entry): DirEntryPlus => ({
            ...entry,
            attributes: toAttributes(entry.inode, Tables.requireTarget(get, entry))
          })),
          cookie: next
        })))
    )

  const layoutIn = (get: Tables.Get, view: ReadView, inode: number) =>
    Effect.gen(function*() {
      const record = yield* Tables.attempt<InodeRecord, NotFound | IsADirectory | StoreError>(() => Tables.requireFile(get, inode))
      const rows = yield* store.scan(Keys.chunkRange(inode), view)
      const chunks = yield* Tables.attempt(() => rows.map(([, value]) => Tables.decodeChunk(value)))
      return { attributes: toAttributes(inode, record), chunks }
    })

  const layout: Queries["layout"] = (inode) => consistently((get, view) => layoutIn(get, view, inode))

  const pathLayout: Queries["pathLayout"] = (path) =>
    consistently((get, view) =>
      Effect.flatMap(
        Tables.attempt<number, NotFound | NotADirectory | InvalidArgument | StoreError>(() => Tables.resolvePath(get, path).inode),
        (inode) => layoutIn(get, view, inode)
      ))

  /** A resend's recorded outcome, or undefined to plan it; throws SessionExpired on a session that is not open. */
  const recordedOutcome = (get: Tables.Get, request: RequestTag) => {
    const reply = Tables.readReply(get, request.session, request.seq)
    if (reply !== undefined && reply.digest === request.digest) return reply.outcome
    // On a session that is not open, whether the request applied before cannot be told:
    // that is the answer, not whatever planning would say now (NotFound for a file removed since).
    const meta = Tables.readMeta(get)
    const session = Tables.readSession(get, request.session)
    if (session === undefined || (meta?.clock ?? 0) - session.lastActive > sessions.timeoutMillis) {
      throw new SessionExpired({ message: `request ${request.seq} of session ${request.session}: the session is not open` })
    }
    return undefined
  }

  const writeLayout: Queries["writeLayout"] = (inode, request) =>
    consistently((get, view) =>
      Effect.gen(function*() {
        if (request !== null) {
          const outcome = yield* Tables.attempt<CommandOutcome | undefined, SessionExpired | StoreError>(() =>
            recordedOutcome(get, request)
          )
          if (outcome !== undefined) return { _tag: "Recorded", outcome } as const
        }
        return { _tag: "Layout", ...yield* layoutIn(get, view, inode) } as const
      })
    )

  const chunks: Queries["chunks"] = (inode) => Effect.map(layout(inode), (l) => l.chunks)

  const fsstat: Queries["fsstat"] = Tables.attempt(() => {
    const meta = Tables.readMeta(store.peek)
    return { files: meta?.files ?? 0, directories: meta?.directories ?? 0, bytes: meta?.bytes ?? 0, chunks: meta?.chunks ?? 0 }
  })

  const garbage: Queries["garbage"] = (max) =>
    !(max >= 1)
      ? Effect.succeed([])
      : Effect.flatMap(
        store.scan({ ...Keys.garbageRange, limit: Math.min(Math.floor(max), Number.MAX_SAFE_INTEGER) }),
        (rows) => Tables.attempt(() => rows.map(([, value]) => Tables.decodeChunk(value)))
      )

  const chunkPage: Queries["chunkPage"] = (after, max) =>
    !(max >= 1)
      ? Effect.succeed([])
      : Effect.flatMap(
        store.scan({
          ...(after === null ? { gte: Keys.allChunksRange.gte } : { gt: Keys.chunkKey(after.inode, after.index) }),
          lt: Keys.allChunksRange.lt,
          limit: Math.min(Math.floor(max), Number.MAX_SAFE_INTEGER)
        }),
        (rows) => Tables.attempt(() => rows.map(([key, value]) => ({ inode: Keys.chunkInode(key) as InodeId, chunk: Tables.decodeChunk(value) })))
      )

  return { getattr, lookup, lookupPath, access, readdir, readdirplus, layout, pathLayout, writeLayout, chunks, fsstat, garbage, chunkPage }
}
