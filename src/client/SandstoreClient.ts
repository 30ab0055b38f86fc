/**
 * SandstoreClient: the SDK's Effect API. Path operations shaped like node:fs (stat, mkdir,
 * readdir, rename, unlink, rmdir, truncate, readFile, writeFile, access, open) over the client
 * RPC API. Where requests go is the NodeRouter's business; retries are the Invoker's. Every
 * error is a typed Sandstore error naming the path the caller passed.
 */
import { Context, Duration, Effect, Layer, Option, Scope } from "effect"
import { SESSION_TIMEOUT_MILLIS } from "../domain/commands.ts"
import type { SessionId } from "../domain/session.ts"
import { AlreadyExists, IsADirectory, NotADirectory, type SandstoreError, type Unavailable } from "../domain/errors.ts"
import { type Attributes, type FsInfo, type FsStat, type InodeId, ROOT_INODE } from "../domain/fs.ts"
import type { Topology } from "../domain/cluster.ts"
import { ClientApi, MAX_TRANSFER_BYTES } from "../protocol/ClientApi.ts"
import { Communicator } from "../services/Communicator.ts"
import { type ClientError, withPath } from "./errors.ts"
import * as FileHandleImpl from "./FileHandle.ts"
import type { FileHandle } from "./FileHandle.ts"
import { defaultRetryOptions, type Invoker, makeInvoker, type RetryOptions } from "./Invoker.ts"
import { type ApiClient, NodeRouter } from "./NodeRouter.ts"
import { makeReplicaReads } from "./ReplicaReads.ts"
import { F_OK, type OpenFlagString, parseOpenFlags } from "./OpenFlags.ts"
import { components, normalize, parentAndName } from "./paths.ts"
import { makeClientSession } from "./ClientSession.ts"
import * as SeedRouter from "./SeedRouter.ts"
import { Dirent, Stats } from "./Stats.ts"
import { concatBytes } from "../lib/concatBytes.ts"

/** Entries per Readdir call (the REFERENCE listdir page). */
export const READDIR_PAGE = 100
/** The least readFile asks for at a time. */
const READ_AHEAD_BYTES = 64 * 1024
/** Keep-alives sent per session timeout: the session survives a few lost ones. */
const KEEP_ALIVES_PER_TIMEOUT = 4
const SESSION_CLOSE_TIMEOUT = "2 seconds"
/** Lookups a readdir makes when the directory it looked up is gone before it is listed. */
const READDIR_LOOKUPS = 3

export interface MkdirOptions {
  readonly recursive?: boolean
  /** permission bits before the umask (default 0o777) */
  readonly mode?: number
}

export interface ReaddirOptions {
  readonly withFileTypes?: boolean
}

export interface WriteFileOptions {
  /** permission bits of a new file before the umask (default 0o666) */
  readonly mode?: number
}

export interface SandstoreClientShape {
  /** The id of the client's session (random, 128 bits), once its first mutation opened one. */
  readonly sessionId: () => SessionId | undefined
  readonly fsInfo: Effect.Effect<FsInfo, SandstoreError>
  readonly fsStat: Effect.Effect<FsStat, SandstoreError>
  readonly topology: Effect.Effect<Topology, SandstoreError>
  readonly stat: (path: string) => Effect.Effect<Stats, ClientError>
  /** With `recursive`, creates missing parents and resolves with the first directory created, if any. */
  readonly mkdir: (path: string, options?: MkdirOptions) => Effect.Effect<string | undefined, ClientError>
  readonly readdir: {
    (path: string, options?: { readonly withFileTypes?: false }): Effect.Effect<ReadonlyArray<string>, ClientError>
    (path: string, options: { readonly withFileTypes: true }): Effect.Effect<ReadonlyArray<Dirent>, ClientError>
    (path: string, options?: ReaddirOptions): Effect.Effect<ReadonlyArray<string> | ReadonlyArray<Dirent>, ClientError>
  }
  readonly rename: (from: string, to: string) => Effect.Effect<void, ClientError>
  readonly unlink: (path: string) => Effect.Effect<void, ClientError>
  readonly rmdir: (path: string) => Effect.Effect<void, ClientError>
  readonly truncate: (path: string, size?: number) => Effect.Effect<void, ClientError>
  readonly readFile: (path: string) => Effect.Effect<Uint8Array, ClientError>
  /** Creates or truncates `path`, then writes `data` (strings as UTF-8). */
  readonly writeFile: (path: string, data: Uint8Array | string, options?: WriteFileOptions) => Effect.Effect<void, ClientError>
  /** Fails unless the caller may access `path` with `mode` (F_OK, or R_OK | W_OK | X_OK bits). */
  readonly access: (path: string, mode?: number) => Effect.Effect<void, ClientError>
  /** A file handle; close it to flush. `mode` applies to a file it creates (before the umask). */
  readonly open: (path: string, flags?: OpenFlagString | number, mode?: number) => Effect.Effect<FileHandle, ClientError>
  /** `open`, closed (and flushed) when the scope closes. */
  readonly openScoped: (
    path: string,
    flags?: OpenFlagString | number,
    mode?: number
  ) => Effect.Effect<FileHandle, ClientError, Scope.Scope>
}

/** Who the client acts as (the node checks permissions against uid/gid) and how it retries. */
export interface ClientSettings {
  readonly uid?: number
  readonly gid?: number
  /** cleared from the mode of every file and directory created (default 0o022) */
  readonly umask?: number
  readonly retry?: RetryOptions
  /** Bytes of Writes each file handle keeps in flight at once (default 32 MiB; one piece always goes). */
  readonly writeWindowBytes?: number
  /** Pieces a sequential reader's handle fetches ahead of it (default 2; 0: none). */
  readonly readAheadPieces?: number
}

export interface ClientOptions extends ClientSettings {
  /** host:port of nodes to connect to, tried in order */
  readonly seeds: ReadonlyArray<string>
}

const utf8 = new TextEncoder()

export const make = (settings: ClientSettings = {}): Effect.Effect<SandstoreClientShape, never, NodeRouter | Communicator | Scope.Scope> =>
  Effect.gen(function*() {
    const router = yield* NodeRouter
    const session = yield* makeClientSession
    const invoker: Invoker = makeInvoker(router, session, settings.retry)
    const uid = settings.uid ?? 0
    const gid = settings.gid ?? 0
    const umask = settings.umask ?? 0o022
    const openHandles = new Set<FileHandle>()
    // Handles' Writes in flight and reads ahead run here, not in the fiber of the call that started them.
    const scope = yield* Effect.scope
    const communicator = yield* Communicator
    /** Clients of the nodes large reads fetch bytes from, one per address for the client's life. */
    const nodes = new Map<string, ApiClient>()
    const nodeAt = (address: string) =>
      Effect.suspend(() => {
        const known = nodes.get(address)
        if (known !== undefined) return Effect.succeed(known)
        return Effect.tap(Effect.provideService(communicator.client(ClientApi, address), Scope.Scope, scope), (api) => {
          nodes.set(address, api)
        })
      })
    const replicaReads = makeReplicaReads({
      invoker,
      nodeAt,
      attemptMillis: Duration.toMillis((settings.retry ?? defaultRetryOptions).attemptTimeout)
    })

    // Last (after the handles are flushed): the node may forget the session. Best effort: an
    // unclosed session expires by itself.
    yield* Effect.addFinalizer(() =>
      Effect.suspend(() => {
        const id = invoker.sessionId()
        return id === undefined ? Effect.void : invoker.query((api) => api.CloseSession({ session: id })).pipe(
          Effect.timeout(SESSION_CLOSE_TIMEOUT),
          Effect.ignore
        )
      })
    )

    // The session stays open while the client lives, even when it only reads or is idle.
    yield* Effect.forkScoped(Effect.forever(Effect.gen(function*() {
      const timeout = yield* Effect.map(invoker.connection, (connection) => connection.info.sessionTimeoutMillis).pipe(
        Effect.orElseSucceed(() => SESSION_TIMEOUT_MILLIS)
      )
      yield* Effect.sleep(Duration.millis(timeout / KEEP_ALIVES_PER_TIMEOUT))
      yield* Effect.ignore(invoker.keepAlive)
    })))

    // Handles still open when the client goes away are flushed; what cannot be is reported.
    yield* Effect.addFinalizer(() =>
      Effect.forEach(
        [...openHandles],
        (handle) =>
          handle.close.pipe(
            Effect.catchAll((error) => Effect.logWarning(`unflushed data lost closing ${handle.path}: ${error.message}`))
          ),
        { discard: true }
      )
    )

    const chunkSize = Effect.map(invoker.connection, (connection) => connection.info.chunkSize)

    const lookup = (path: string) => invoker.query((api) => api.LookupPath({ path: normalize(path) }))

    const lookupChild = (parent: InodeId, name: string) =>
      invoker.query((api) => api.Lookup({ parent, name })).pipe(
        Effect.map(Option.some),
        Effect.catchTag("NotFound", () => Effect.succeedNone)
      )

    /**
     * `change` made in the directory holding `path`, named by its path: the node resolves it
     * when it applies the change, so there is no lookup first (one request, one log entry) and
     * no window in which a rename could swap the directory.
     */
    const atPath = <A>(path: string, change: (dir: string, name: string) => Effect.Effect<A, SandstoreError>) =>
      Effect.flatMap(parentAndName(path), ({ name, parent }) => change(parent, name))

    const requireDirectory = (attributes: Attributes, path: string) =>
      attributes.type === "directory"
        ? Effect.succeed(attributes)
        : Effect.fail(new NotADirectory({ message: "not a directory", path }))

    const mkdirOne = (path: string, mode: number) =>
      Effect.gen(function*() {
        if (components(path).length === 0) return yield* new AlreadyExists({ message: "the root directory exists", path })
        yield* atPath(path, (dir, name) =>
          invoker.mutate((api, request) => api.Mkdir({ parent: dir, name, mode, uid, gid, request })))
        return undefined
      })

    const mkdirRecursive = (path: string, mode: number) =>
      Effect.gen(function*() {
        const parts = components(path)
        let dir: InodeId = ROOT_INODE
        let firstCreated: string | undefined
        for (let i = 0; i < parts.length; i++) {
          const name = parts[i]!
          const here = "/" + parts.slice(0, i + 1).join("/")
          const existing = yield* lookupChild(dir, name)
          const attributes = Option.isSome(existing)
            ? existing.value
            : yield* invoker.mutate((api, request) => api.Mkdir({ parent: dir, name, mode, uid, gid, request })).pipe(
              Effect.tap(() => {
                firstCreated ??= here
              }),
              // Someone else created it between our lookup and mkdir: use theirs.
              Effect.catchTag("AlreadyExists", () => invoker.query((api) => api.Lookup({ parent: dir, name })))
            )
          dir = (yield* requireDirectory(attributes, here)).inode
        }
        return firstCreated
      })

    const listPages = <E>(fetch: (cookie: string | null) => Effect.Effect<{ readonly entries: ReadonlyArray<E>; readonly cookie: string | null }, SandstoreError>) =>
      Effect.gen(function*() {
        const all: Array<E> = []
        let cookie: string | null = null
        do {
          const page: { readonly entries: ReadonlyArray<E>; readonly cookie: string | null } = yield* fetch(cookie)
          all.push(...page.entries)
          cookie = page.cookie
        } while (cookie !== null)
        return all
      })

    /**
     * Lists by inode after a lookup: the directory can be removed, or replaced by a rename over
     * it, in between. That NotFound is about the old inode, not the path, so look it up again.
     */
    const readdir = (path: string, options?: ReaddirOptions) =>
      Effect.gen(function*() {
        const dir = yield* Effect.flatMap(lookup(path), (attributes) => requireDirectory(attributes, path))
        if (options?.withFileTypes !== true) {
          const entries = yield* listPages((cookie) =>
            invoker.query((api) => api.Readdir({ inode: dir.inode, cookie, max: READDIR_PAGE }))
          )
          return entries.map((entry) => entry.name)
        }
        const size = yield* chunkSize
        const entries = yield* listPages((cookie) =>
          invoker.query((api) => api.ReaddirPlus({ inode: dir.inode, cookie, max: READDIR_PAGE }))
        )
        const parentPath = normalize(path)
        return entries.map((entry) =>
          new Dirent(entry.name, parentPath, entry.inode, entry.type, new Stats(entry.attributes, size))
        )
      }).pipe(Effect.retry({ times: READDIR_LOOKUPS - 1, while: (error) => error._tag === "NotFound" }))

    const open = (path: string, flagsInput: OpenFlagString | number = "r", mode = 0o666) =>
      Effect.gen(function*() {
        const flags = yield* parseOpenFlags(flagsInput)
        let attributes: Attributes
        // The root always exists and has no parent to create it in.
        if (flags.create && components(path).length > 0) {
          const create = atPath(path, (dir, name) =>
            invoker.mutate((api, request) =>
              api.Create({ parent: dir, name, mode: mode & 0o7777 & ~umask, uid, gid, exclusive: flags.exclusive, request })
            ))
          // Without O_EXCL an existing name is fine; only a file can be opened for writing (below).
          attributes = yield* flags.exclusive
            ? create
            : Effect.catchTag(create, "AlreadyExists", () => lookup(path))
        } else {
          attributes = yield* lookup(path)
        }
        if (attributes.type === "directory" && (flags.write || flags.truncate)) {
          return yield* new IsADirectory({ message: "is a directory", path })
        }
        if (flags.truncate && flags.write && attributes.size > 0) {
          attributes = yield* invoker.mutate((api, request) =>
            api.SetAttr({ inode: attributes.inode, changes: { size: 0 }, request })
          )
        }
        const connection = yield* invoker.connection
        const handle: FileHandle = yield* FileHandleImpl.make({
          invoker,
          path: normalize(path),
          attributes,
          flags,
          chunkSize: connection.info.chunkSize,
          scope,
          replicaReads,
          ...(settings.writeWindowBytes === undefined ? {} : { windowBytes: settings.writeWindowBytes }),
          ...(settings.readAheadPieces === undefined ? {} : { readAheadPieces: settings.readAheadPieces }),
          onClose: Effect.sync(() => openHandles.delete(handle))
        })
        openHandles.add(handle)
        return handle
      }).pipe(Effect.mapError(withPath(path)))

    // Unlike acquireRelease, opening stays interruptible (it is only lookups and, for "w", a
    // truncate), so a timeout around a call cuts a slow open short; once open, the close is
    // registered before anything can interrupt.
    const openScoped = (path: string, flags?: OpenFlagString | number, mode?: number) =>
      Effect.uninterruptibleMask((restore) =>
        Effect.tap(restore(open(path, flags, mode)), (handle) =>
          Effect.addFinalizer(() =>
            handle.close.pipe(
              Effect.catchAll((error) => Effect.logWarning(`unflushed data lost closing ${handle.path}: ${error.message}`))
            )))
      )

    const client: SandstoreClientShape = {
      sessionId: invoker.sessionId,
      fsInfo: invoker.query((api) => api.FsInfo({})),
      fsStat: invoker.query((api) => api.FsStat({})),
      topology: invoker.query((api) => api.Topology({})),
      stat: (path) =>
        Effect.zipWith(lookup(path), chunkSize, (attributes, size) => new Stats(attributes, size)).pipe(
          Effect.mapError(withPath(path))
        ),
      mkdir: (path, options = {}) => {
        const mode = (options.mode ?? 0o777) & 0o7777 & ~umask
        return (options.recursive === true ? mkdirRecursive(path, mode) : mkdirOne(path, mode)).pipe(
          Effect.mapError(withPath(path))
        )
      },
      readdir: ((path: string, options?: ReaddirOptions) =>
        readdir(path, options).pipe(Effect.mapError(withPath(path)))) as SandstoreClientShape["readdir"],
      rename: (from, to) =>
        Effect.flatMap(Effect.all([parentAndName(from), parentAndName(to)]), ([src, dst]) =>
          invoker.mutate((api, request) =>
            api.Rename({ srcParent: src.parent, srcName: src.name, dstParent: dst.parent, dstName: dst.name, request })
          )).pipe(Effect.asVoid, Effect.mapError(withPath(from))),
      unlink: (path) =>
        atPath(path, (dir, name) => invoker.mutate((api, request) => api.Unlink({ parent: dir, name, request }))).pipe(
          Effect.mapError(withPath(path))
        ),
      rmdir: (path) =>
        atPath(path, (dir, name) => invoker.mutate((api, request) => api.Rmdir({ parent: dir, name, request }))).pipe(
          Effect.mapError(withPath(path))
        ),
      truncate: (path, size = 0) =>
        Effect.flatMap(lookup(path), (attributes) =>
          invoker.mutate((api, request) => api.SetAttr({ inode: attributes.inode, changes: { size }, request }))).pipe(
            Effect.asVoid,
            Effect.mapError(withPath(path))
          ),
      readFile: (path) =>
        Effect.gen(function*() {
          // The path resolved and the first bytes read in one request: a small file is one round trip.
          const first = yield* invoker.query((api) => api.ReadPath({ path: normalize(path), offset: 0, length: READ_AHEAD_BYTES }))
          const { inode, size } = first.attributes
          const parts = [first.data]
          let total = first.data.length
          let asked = READ_AHEAD_BYTES
          // A short read is the end. Until then, by inode (what the path named when the read
          // began, as an open handle would): what the file held, and a byte more (to see that it
          // ended, or grew); a node sets aside what a read asks for.
          while (parts[parts.length - 1]!.length === asked) {
            asked = Math.min(MAX_TRANSFER_BYTES, Math.max(READ_AHEAD_BYTES, size - total + 1))
            const offset = total
            const part = yield* invoker.query((api) => api.Read({ inode, offset, length: asked }))
            parts.push(part)
            total += part.length
          }
          return concatBytes(parts, total)
        }).pipe(Effect.mapError(withPath(path))),
      writeFile: (path, data, options = {}) =>
        Effect.flatMap(open(path, "w", options.mode), (handle) =>
          handle.write(typeof data === "string" ? utf8.encode(data) : data).pipe(
            Effect.onError(() => Effect.ignore(handle.close)),
            Effect.zipRight(handle.close)
          )),
      access: (path, mode = F_OK) =>
        Effect.flatMap(lookup(path), (attributes) =>
          mode === F_OK
            ? Effect.void
            : invoker.query((api) => api.Access({ inode: attributes.inode, uid, gid, mask: mode }))).pipe(
            Effect.mapError(withPath(path))
          ),
      open,
      openScoped
    }
    return client
  })

export class SandstoreClient extends Context.Tag("sandstore/SandstoreClient")<SandstoreClient, SandstoreClientShape>() {
  /** A client over a given router (tests wrap routers to inject faults). */
  static readonly layerFromRouter = (settings: ClientSettings = {}): Layer.Layer<SandstoreClient, never, NodeRouter | Communicator> =>
    Layer.scoped(SandstoreClient, make(settings))

  /** A client connected to the first reachable seed. */
  static readonly layer = (options: ClientOptions): Layer.Layer<SandstoreClient, Unavailable, Communicator> =>
    SandstoreClient.layerFromRouter(options).pipe(Layer.provide(SeedRouter.layer({ seeds: options.seeds })))
}
