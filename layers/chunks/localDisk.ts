/**
 * ChunkService on local disk. Layout under `dir`:
 *
 *   staged/<id>          a durable, verified version waiting for its transaction's outcome
 *   staged/<id>.tmp-<n>  a version being written; never readable, removed when the layer opens
 *   committed/<id>       a version that committed metadata may reference
 *
 * Each file is in the format of chunkFile.ts. Paths are built only from ids that passed
 * checkVersionId, so no id can name anything outside `dir`. Mutations of one id are serialized
 * by a striped lock; reads take no lock (files are immutable once renamed into place).
 */
import * as NodeFs from "node:fs"
import * as NodePath from "node:path"
import { Effect, Layer, Option, Ref, type Scope } from "effect"
import { type Corruption, IoError, InvalidArgument, NotFound } from "../../src/domain/errors.ts"
import { ChunkService, type ChunkServiceShape, VERSION_ID_PATTERN } from "../../src/services/ChunkService.ts"
import {
  blockSpan,
  CHUNK_HEADER_SIZE,
  type ChunkChecksums,
  type ChunkFileHeader,
  decodeChunkHeader,
  encodeChunkPrefix,
  verifyBlocks
} from "./chunkFile.ts"
import { unfilledBytes } from "../../src/lib/unfilledBytes.ts"
import { checkRange, checkStagedData, checkVersionId } from "./validation.ts"

type Errno = NodeJS.ErrnoException

/** A node:fs callback call as an Effect; the raw error is kept so callers can look at `code`. */
const nodeFs = <A>(run: (done: (error: Errno | null, value: A) => void) => void): Effect.Effect<A, Errno> =>
  Effect.async<A, Errno>((resume) => {
    run((error, value) => resume(error ? Effect.fail(error) : Effect.succeed(value)))
  })

const ioError = (operation: string, path: string) => (error: Errno): IoError =>
  new IoError({ message: `${operation} ${path} failed: ${error.code ?? error.message}`, path })

const isMissing = (error: Errno): boolean => error.code === "ENOENT"

const openFd = (path: string, flags: string): Effect.Effect<number, Errno> =>
  nodeFs<number>((done) => NodeFs.open(path, flags, done))

// A failed close cannot lose data here: writers fsync before closing, readers have their bytes.
const closeFd = (fd: number): Effect.Effect<void> =>
  Effect.ignore(nodeFs<void>((done) => NodeFs.close(fd, (error) => done(error, undefined))))

const openScoped = (path: string, flags: string): Effect.Effect<number, IoError, Scope.Scope> =>
  Effect.acquireRelease(openFd(path, flags).pipe(Effect.mapError(ioError("open", path))), closeFd)

const openForReadIfExists = (path: string): Effect.Effect<Option.Option<number>, IoError, Scope.Scope> =>
  Effect.acquireRelease(
    openFd(path, "r").pipe(
      Effect.map(Option.some),
      Effect.catchIf(isMissing, () => Effect.succeedNone),
      Effect.mapError(ioError("open", path))
    ),
    Option.match({ onNone: () => Effect.void, onSome: closeFd })
  )

/** Up to `length` bytes at `position`; fewer only at end of file. */
const readAt = (path: string, fd: number, length: number, position: number): Effect.Effect<Uint8Array, IoError> =>
  Effect.gen(function*() {
    // What the read does not fill is cut off below, never returned.
    const buffer = unfilledBytes(length)
    let filled = 0
    while (filled < length) {
      const n = yield* nodeFs<number>((done) => NodeFs.read(fd, buffer, filled, length - filled, position + filled, done))
        .pipe(Effect.mapError(ioError("read", path)))
      if (n === 0) break
      filled += n
    }
    return buffer.subarray(0, filled)
  })

const writeAllAt = (path: string, fd: number, bytes: Uint8Array, position: number): Effect.Effect<void, IoError> =>
  Effect.gen(function*() {
    let written = 0
    while (written < bytes.length) {
      written += yield* nodeFs<number>((done) =>
        NodeFs.write(fd, bytes, written, bytes.length - written, position + written, done)
      ).pipe(Effect.mapError(ioError("write", path)))
    }
  })

const fsyncFd = (path: string, fd: number): Effect.Effect<void, IoError> =>
  nodeFs<void>((done) => NodeFs.fsync(fd, (error) => done(error, undefined))).pipe(
    Effect.mapError(ioError("fsync", path))
  )

/** Makes the directory's entries (creations, renames, removals) durable. */
const fsyncDir = (path: string): Effect.Effect<void, IoError> =>
  Effect.scoped(Effect.flatMap(openScoped(path, "r"), (fd) => fsyncFd(path, fd)))

const rename = (from: string, to: string): Effect.Effect<void, Errno> =>
  nodeFs<void>((done) => NodeFs.rename(from, to, (error) => done(error, undefined)))

const renameIfExists = (from: string, to: string): Effect.Effect<boolean, IoError> =>
  rename(from, to).pipe(
    Effect.as(true),
    Effect.catchIf(isMissing, () => Effect.succeed(false)),
    Effect.mapError(ioError("rename", from))
  )

const unlinkIfExists = (path: string): Effect.Effect<boolean, IoError> =>
  nodeFs<void>((done) => NodeFs.unlink(path, (error) => done(error, undefined))).pipe(
    Effect.as(true),
    Effect.catchIf(isMissing, () => Effect.succeed(false)),
    Effect.mapError(ioError("unlink", path))
  )

const exists = (path: string): Effect.Effect<boolean, IoError> =>
  nodeFs<NodeFs.Stats>((done) => NodeFs.stat(path, done)).pipe(
    Effect.as(true),
    Effect.catchIf(isMissing, () => Effect.succeed(false)),
    Effect.mapError(ioError("stat", path))
  )

const readDir = (path: string): Effect.Effect<ReadonlyArray<string>, IoError> =>
  nodeFs<Array<string>>((done) => NodeFs.readdir(path, done)).pipe(Effect.mapError(ioError("readdir", path)))

const makeDir = (path: string): Effect.Effect<void, IoError> =>
  nodeFs<string | undefined>((done) => NodeFs.mkdir(path, { recursive: true }, done)).pipe(
    Effect.asVoid,
    Effect.mapError(ioError("mkdir", path))
  )

const TEMP_FILE = /\.tmp-\d+$/

const readHeader = (path: string, fd: number): Effect.Effect<ChunkFileHeader, Corruption | IoError> =>
  Effect.flatMap(readAt(path, fd, CHUNK_HEADER_SIZE, 0), (bytes) => decodeChunkHeader(bytes, path))

/** Reads and verifies only the blocks the range touches. */
const readVerified = (
  path: string,
  fd: number,
  header: ChunkFileHeader,
  offset: number,
  length: number
): Effect.Effect<Uint8Array, Corruption | IoError> =>
  Effect.gen(function*() {
    const span = blockSpan(header, offset, length)
    if (span.blockCount === 0) return new Uint8Array(0)
    const table = yield* readAt(path, fd, span.tableLength, span.tableOffset)
    const blocks = yield* readAt(path, fd, span.blocksLength, span.blocksOffset)
    return yield* verifyBlocks(header, span, table, blocks, path)
  })

const sameBytes = (a: Uint8Array, b: Uint8Array): boolean => Buffer.from(a.buffer, a.byteOffset, a.length).equals(b)

const LOCK_STRIPES = 64

const stripeOf = (versionId: string): number => {
  let hash = 0
  for (let i = 0; i < versionId.length; i++) hash = (hash * 31 + versionId.charCodeAt(i)) >>> 0
  return hash % LOCK_STRIPES
}

export const makeChunkServiceLocalDisk = (options: { readonly dir: string }): Effect.Effect<ChunkServiceShape, IoError> =>
  Effect.gen(function*() {
    const root = NodePath.resolve(options.dir)
    const stagedDir = NodePath.join(root, "staged")
    const committedDir = NodePath.join(root, "committed")
    const stagedPath = (id: string) => NodePath.join(stagedDir, id)
    const committedPath = (id: string) => NodePath.join(committedDir, id)

    yield* makeDir(stagedDir)
    yield* makeDir(committedDir)
    yield* fsyncDir(root)

    // Recovery: a temp file is a stage that never returned; a staged copy of a committed id is a
    // commit whose rename was not yet durable in both directories. Neither is needed. A lost
    // unlink here only means the same cleanup at the next open.
    const committedAtOpen = new Set(yield* readDir(committedDir))
    for (const name of yield* readDir(stagedDir)) {
      if (TEMP_FILE.test(name) || (VERSION_ID_PATTERN.test(name) && committedAtOpen.has(name))) {
        yield* unlinkIfExists(NodePath.join(stagedDir, name))
      }
    }

    const tempCounter = yield* Ref.make(0)
    const stripes = yield* Effect.forEach(Array.from({ length: LOCK_STRIPES }), () => Effect.makeSemaphore(1))
    const exclusive = (id: string) => stripes[stripeOf(id)]!.withPermits(1)

    /** Whether a stored version (committed or staged) holds exactly `data`; none when there is none. */
    const storedMatches = (id: string, data: Uint8Array, checksum: number) =>
      Effect.scoped(Effect.gen(function*() {
        for (const path of [committedPath(id), stagedPath(id)]) {
          const fd = yield* openForReadIfExists(path)
          if (Option.isNone(fd)) continue
          const header = yield* readHeader(path, fd.value)
          if (header.dataLength !== data.length || header.dataCrc !== checksum) return Option.some(false)
          const stored = yield* readVerified(path, fd.value, header, 0, header.dataLength)
          return Option.some(sameBytes(stored, data))
        }
        return Option.none<boolean>()
      }))

    const writeStaged = (id: string, data: Uint8Array, checksums: ChunkChecksums) =>
      Effect.gen(function*() {
        const temp = NodePath.join(stagedDir, `${id}.tmp-${yield* Ref.getAndUpdate(tempCounter, (n) => n + 1)}`)
        const prefix = encodeChunkPrefix(data.length, checksums)
        yield* Effect.scoped(Effect.gen(function*() {
          const fd = yield* openScoped(temp, "wx")
          yield* writeAllAt(temp, fd, prefix, 0)
          yield* writeAllAt(temp, fd, data, prefix.length)
          yield* fsyncFd(temp, fd)
        })).pipe(
          Effect.zipRight(rename(temp, stagedPath(id)).pipe(Effect.mapError(ioError("rename", temp)))),
          Effect.onError(() => Effect.ignore(unlinkIfExists(temp)))
        )
        yield* fsyncDir(stagedDir)
      })

    const stage: ChunkServiceShape["stage"] = (versionId, data, checksum) =>
      Effect.gen(function*() {
        const id = yield* checkVersionId(versionId)
        const checksums = yield* checkStagedData(id, data, checksum)
        yield* exclusive(id)(Effect.gen(function*() {
          const matches = yield* storedMatches(id, data, checksum)
          if (Option.isNone(matches)) return yield* writeStaged(id, data, checksums)
          if (!matches.value) {
            return yield* new InvalidArgument({ message: `chunk version ${id} already exists with different bytes` })
          }
        }))
      })

    // No directory fsync: the bytes were durable when staged, and a rename lost in a crash only
    // leaves the version staged, where it is still read and the collector commits it again.
    const commit: ChunkServiceShape["commit"] = (versionIds) =>
      Effect.gen(function*() {
        for (const id of versionIds) yield* checkVersionId(id)
        const missing: Array<string> = []
        for (const id of versionIds) {
          yield* exclusive(id)(Effect.gen(function*() {
            if (!(yield* renameIfExists(stagedPath(id), committedPath(id))) && !(yield* exists(committedPath(id)))) missing.push(id)
          }))
        }
        if (missing.length > 0) {
          return yield* new NotFound({ message: `chunk versions neither staged nor committed: ${missing.join(", ")}`, path: stagedPath(missing[0]!) })
        }
      })

    const removeFrom = (dir: string, id: string) =>
      Effect.flatMap(unlinkIfExists(NodePath.join(dir, id)), (removed) => removed ? fsyncDir(dir) : Effect.void)

    const abort: ChunkServiceShape["abort"] = (versionId) =>
      Effect.flatMap(checkVersionId(versionId), (id) => exclusive(id)(removeFrom(stagedDir, id)))

    const remove: ChunkServiceShape["remove"] = (versionIds) =>
      Effect.gen(function*() {
        for (const id of versionIds) yield* checkVersionId(id)
        let staged = false
        let committed = false
        for (const id of versionIds) {
          yield* exclusive(id)(Effect.gen(function*() {
            if (yield* unlinkIfExists(stagedPath(id))) staged = true
            if (yield* unlinkIfExists(committedPath(id))) committed = true
          }))
        }
        // Each directory is synced once, after its last deletion.
        if (staged) yield* fsyncDir(stagedDir)
        if (committed) yield* fsyncDir(committedDir)
      })

    /** Open the committed file, else the staged one. The second look at committed/ covers a commit that moved the file between the first two opens. */
    const openVersion = (id: string) =>
      Effect.gen(function*() {
        for (const path of [committedPath(id), stagedPath(id), committedPath(id)]) {
          const fd = yield* openForReadIfExists(path)
          if (Option.isSome(fd)) return { path, fd: fd.value }
        }
        return yield* new NotFound({ message: `chunk version ${id} not found`, path: committedPath(id) })
      })

    const read: ChunkServiceShape["read"] = (versionId, offset, length) =>
      Effect.gen(function*() {
        const id = yield* checkVersionId(versionId)
        yield* checkRange(offset, length)
        return yield* Effect.scoped(Effect.gen(function*() {
          const { fd, path } = yield* openVersion(id)
          const header = yield* readHeader(path, fd)
          return yield* readVerified(path, fd, header, offset, length)
        }))
      })

    // staged/ is listed first: a commit racing the listing then shows up as committed, never as missing.
    const list: ChunkServiceShape["list"] = Effect.gen(function*() {
      const staged = (yield* readDir(stagedDir)).filter((name) => VERSION_ID_PATTERN.test(name))
      const committed = (yield* readDir(committedDir)).filter((name) => VERSION_ID_PATTERN.test(name)).sort()
      const committedSet = new Set(committed)
      return { staged: staged.filter((id) => !committedSet.has(id)).sort(), committed }
    })

    return { stage, commit, abort, read, remove, list }
  })

export const ChunkServiceLocalDisk = (options: { readonly dir: string }): Layer.Layer<ChunkService, IoError> =>
  Layer.effect(ChunkService, makeChunkServiceLocalDisk(options))
