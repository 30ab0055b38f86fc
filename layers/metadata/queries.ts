/**
 * Reads of the applied state. A query that reads more than one key reads them from one store
 * snapshot, so it never sees half of an apply (an entry whose inode is already gone).
 */
import { Effect } from "effect"
import { InvalidArgument, NotFound, PermissionDenied, SessionExpired } from "../../src/domain/errors.ts"
import type { DirEntry, DirEntryPlus } from "../../src/domain/fs.ts"
import type { MetadataServiceShape } from "../../src/services/MetadataService.ts"
import * as Keys from "./keys.ts"
import { validateName } from "./names.ts"
import { toAttributes } from "./records.ts"
import type { SessionSettings } from "./sessions.ts"
import type { ReadView, Store } from "./store.ts"
import * as Tables from "./tables.ts"

export const MAX_READDIR_ENTRIES = 10_000

type Queries = Pick<
  MetadataServiceShape,
  | "getattr" | "lookup" | "lookupPath" | "access" | "readdir" | "readdirplus" | "layout" | "writeLayout" | "chunks" | "fsstat"
  | "garbage"
>

/** Permission bits that grant `mask` to a caller in the class selected by `shift` (6 owner, 3 group, 0 other). */
const granted = (mode: number, shift: number, mask: number): boolean => ((mode >> shift) & mask) === mask

export const makeQueries = (store: Store, sessions: SessionSettings): Queries => {
  const getIn = (view: ReadView): Tables.Get => (key) => store.get(key, view)
  /** Run `f` against one consistent snapshot of the store. */
  const consistently = <A, E>(f: (get: Tables.Get, view: ReadView) => Effect.Effect<A, E>) =>
    store.withView((view) => f(getIn(view), view))

  const getattr: Queries["getattr"] = (inode) =>
    Effect.map(Tables.requireInode(store.get, inode), (record) => toAttributes(inode, record))

  const lookup: Queries["lookup"] = (parent, name) =>
    consistently((get) =>
      Effect.gen(function*() {
        yield* validateName(name)
        yield* Tables.requireDirectory(get, parent)
        const entry = yield* Tables.readEntry(get, parent, name)
        if (entry === undefined) return yield* new NotFound({ message: `no entry "${name}" in directory ${parent}`, path: name })
        return toAttributes(entry.inode, yield* Tables.requireTarget(get, entry))
      })
    )

  const lookupPath: Queries["lookupPath"] = (path) =>
    consistently((get) => Effect.map(Tables.resolvePath(get, path), ({ inode, record }) => toAttributes(inode, record)))

  const access: Queries["access"] = (inode, uid, gid, mask) =>
    Effect.gen(function*() {
      if (!Number.isInteger(mask) || mask < 0 || mask > 7) {
        return yield* new InvalidArgument({ message: `invalid access mask ${mask}` })
      }
      const record = yield* Tables.requireInode(store.get, inode)
      const allowed = uid === 0
        // The superuser reads and writes anything; it executes only what someone may execute.
        ? (mask & 1) === 0 || record.type === "directory" || (record.mode & 0o111) !== 0
        : granted(record.mode, uid === record.uid ? 6 : gid === record.gid ? 3 : 0, mask)
      if (!allowed) return yield* new PermissionDenied({ message: `access ${mask} denied on inode ${inode} for uid ${uid}` })
    })

  /** One page of entries of `inode` after the name `cookie`. */
  const page = (get: Tables.Get, view: ReadView, inode: number, cookie: string | null, max: number) =>
    Effect.gen(function*() {
      if (!Number.isInteger(max) || max < 1 || max > MAX_READDIR_ENTRIES) {
        return yield* new InvalidArgument({ message: `readdir max must be 1..${MAX_READDIR_ENTRIES}, got ${max}` })
      }
      yield* Tables.requireDirectory(get, inode)
      const range = Keys.entryRange(inode)
      const start = cookie === null ? { gte: range.gte } : { gt: Keys.entryKey(inode, cookie) }
      const rows = yield* store.scan({ ...start, lt: range.lt, limit: max + 1 }, view)
      const entries: Array<DirEntry> = []
      for (const [key, value] of rows.slice(0, max)) {
        const entry = yield* Tables.decodeEntry(value)
        entries.push({ name: Keys.entryName(key), inode: entry.inode, type: entry.type })
      }
      return { entries, cookie: rows.length > max ? entries[entries.length - 1]!.name : null }
    })

  const readdir: Queries["readdir"] = (inode, cookie, max) =>
    consistently((get, view) => page(get, view, inode, cookie, max))

  const readdirplus: Queries["readdirplus"] = (inode, cookie, max) =>
    consistently((get, view) =>
      Effect.gen(function*() {
        const { cookie: next, entries } = yield* page(get, view, inode, cookie, max)
        const plus: Array<DirEntryPlus> = []
        for (const entry of entries) {
          const record = yield* Tables.requireTarget(get, entry)
          plus.push({ ...entry, attributes: toAttributes(entry.inode, record) })
        }
        return { entries: plus, cookie: next }
      })
    )

  const layoutIn = (get: Tables.Get, view: ReadView, inode: number) =>
    Effect.gen(function*() {
      const record = yield* Tables.requireFile(get, inode)
      const rows = yield* store.scan(Keys.chunkRange(inode), view)
      const chunks = yield* Effect.forEach(rows, ([, value]) => Tables.decodeChunk(value))
      return { attributes: toAttributes(inode, record), chunks }
    })

  const layout: Queries["layout"] = (inode) => consistently((get, view) => layoutIn(get, view, inode))

  const writeLayout: Queries["writeLayout"] = (inode, request) =>
    consistently((get, view) =>
      Effect.gen(function*() {
        if (request !== null) {
          const reply = yield* Tables.readReply(get, request.session, request.seq)
          if (reply !== undefined && reply.digest === request.digest) return { _tag: "Recorded", outcome: reply.outcome } as const
          // On a session that is not open, whether the request applied before cannot be told:
          // that is the answer, not whatever planning would say now (NotFound for a file removed since).
          const meta = yield* Tables.readMeta(get)
          const session = yield* Tables.readSession(get, request.session)
          if (session === undefined || (meta?.clock ?? 0) - session.lastActive > sessions.timeoutMillis) {
            return yield* new SessionExpired({ message: `request ${request.seq} of session ${request.session}: the session is not open` })
          }
        }
        return { _tag: "Layout", ...yield* layoutIn(get, view, inode) } as const
      })
    )

  const chunks: Queries["chunks"] = (inode) => Effect.map(layout(inode), (l) => l.chunks)

  const fsstat: Queries["fsstat"] = Effect.map(Tables.readMeta(store.get), (meta) => ({
    files: meta?.files ?? 0,
    directories: meta?.directories ?? 0,
    bytes: meta?.bytes ?? 0,
    chunks: meta?.chunks ?? 0
  }))

  const garbage: Queries["garbage"] = (max) =>
    !(max >= 1)
      ? Effect.succeed([])
      : Effect.flatMap(
        store.scan({ ...Keys.garbageRange, limit: Math.min(Math.floor(max), Number.MAX_SAFE_INTEGER) }),
        (rows) => Effect.forEach(rows, ([, value]) => Tables.decodeChunk(value))
      )

  return { getattr, lookup, lookupPath, access, readdir, readdirplus, layout, writeLayout, chunks, fsstat, garbage }
}
