/**
 * ChunkService on local disk. Layout under `dir`:
 *
 *   staged/<id>          a durable, verified version waiting for its transaction's outcome
 *   <dir>/<id>.tmp-<n>   a version file being written (staged, or a repair in place); never
 *                        readable, removed when the layer opens
 *   committed/<id>       a version that committed metadata may reference
 *   kept/<id>            a removed version that a patch version still reads from
 *   free/<n>             a removed patch file, to be written over as a new version (filePool.ts)
 *
 * A whole version is a file in the format of chunkFile.ts. A patch version (`stagePatch`) is
 * `<id>.patch`, in the format of patchFile.ts: only the bytes that differ from its base, which
 * may itself be a patch. Reading one walks the chain in memory (the index of patches below) and
 * reads each byte from the newest file that holds it. When the chain grows long, or holds as
 * many patch bytes as the version has, the next patch is written whole instead: a 4 KiB write
 * to an 8 MiB chunk costs about 4 KiB on disk, and every 1,024th costs a whole copy.
 *
 * Removing a version that patches still read from moves it to kept/; it is deleted when the
 * last of them goes. The index (every version, where its file is, its patch header, and how
 * many patches name each base) lives in memory and is rebuilt from the directories and the
 * patch headers when the layer opens, which also deletes kept files no patch needs any more. Paths are built only from ids that passed checkVersionId, so no id can
 * name anything outside `dir`. Mutations of one id are serialized by a lock per id; moves into
 * and out of kept/ are synchronous steps (rename and index together), so none interleaves with
 * another; reads take no lock (files are immutable once renamed into place).
 */
import * as NodePath from "node:path"
import { Effect, Either, Exit, Layer, Option } from "effect"
import { Corruption, type IoError, InvalidArgument, NotFound } from "../../src/domain/errors.ts"
import { crc32cAfterOverwrite } from "../../src/lib/crc32c.ts"
import { makeKeyedLock } from "../../src/lib/keyedLock.ts"
import { sameBytes } from "../../src/lib/sameBytes.ts"
import { ChunkService, type ChunkPatch, type ChunkServiceShape, VERSION_ID_PATTERN } from "../../src/services/ChunkService.ts"
import {
  blockSpan,
  CHUNK_HEADER_SIZE,
  type ChunkChecksums,
  dataOffset,
  tableOffset,
  chunkChecksums,
  type ChunkFileHeader,
  decodeChunkHeader,
  encodeChunkPrefix,
  verifyBlocks
} from "./chunkFile.ts"
import {
  closeNow,
  fsyncDir,
  fsyncFd,
  makeDir,
  openForReadIfExistsNow,
  openScoped,
  readAt,
  readAtNow,
  readDir,
  renameIfExistsNow,
  runNow,
  SYNC_IO_BYTES,
  unlinkIfExists,
  unlinkIfExistsNow,
  writeFileDurably
} from "./fsCalls.ts"
import {
  decodePatchHeader,
  encodePatchHeader,
  MAX_PATCH_HEADER_SIZE,
  type PatchHeader,
  patchedBytes,
  patchHeaderSize
} from "./patchFile.ts"
import { makeFilePool } from "./filePool.ts"
import { baseDiffers, checkPatch, checkRange, checkStagedData, checkVersionId } from "./validation.ts"

/** A chain this long is written whole at its next patch: reads walk at most this many files. */
export const MAX_PATCH_DEPTH = 1024


const TEMP_FILE = /\.tmp-\d+$/
const PATCH_SUFFIX = ".patch"

type Place = "staged" | "committed" | "kept"
const PLACES: ReadonlyArray<Place> = ["staged", "committed", "kept"]

/** A patch version's header and the length of its own bytes. */
interface PatchEntry extends PatchHeader {
  readonly dataLength: number
}

/**
 * Every entry built with the same fields in the same order: the chain walk reads thousands of
 * them per call, and entries of mixed shapes (spreads of headers decoded or built) made those
 * reads megamorphic.
 */
const patchEntry = (header: PatchHeader, dataLength: number): PatchEntry => ({
  base: header.base,
  baseLength: header.baseLength,
  length: header.length,
  offset: header.offset,
  crc: header.crc,
  depth: header.depth,
  chainBytes: header.chainBytes,
  dataLength
})

/** About how long a patch's file is (its block table left out): what pooling it holds back. */
const patchFileBytes = (patch: PatchEntry): number => patchHeaderSize(patch) + CHUNK_HEADER_SIZE + patch.dataLength

/** Where a version's file is; a version only moves forward through PLACES. */
interface Stored {
  place: Place
  readonly patch: PatchEntry | undefined
  /** A whole version's length and checksum, once known (written, or its header read). */
  whole?: VersionFacts | undefined
}

/** What a patch on top of a version needs to know of it. */
interface VersionFacts {
  readonly length: number
  readonly crc: number
  readonly depth: number
  readonly chainBytes: number
}

/** A stretch [start, end) of a version's bytes and the version whose file holds it (null: zeros). */
interface Piece {
  readonly holder: string | null
  readonly start: number
  readonly end: number
}

/**
 * Where a version's chunk file starts in its file (0, or after a patch header), its header, and
 * its block checksum table. Read again for every read: damage to them is then found at once.
 */
interface Layout {
  readonly at: number
  readonly header: ChunkFileHeader
  readonly table: Uint8Array
}

/** An open version file and its layout. */
interface OpenVersion {
  readonly path: string
  readonly fd: number
  readonly layout: Layout
}

/** The file holding a version's own bytes, open, and where those bytes start in the version. */
interface Holder extends OpenVersion {
  readonly startsAt: number
}

/** The value, or its Corruption thrown (for the store's synchronous code: fsCalls.ts). */
const orThrow = <A>(decoded: Either.Either<A, Corruption>): A => {
  if (Either.isLeft(decoded)) throw decoded.left
  return decoded.right
}

/** A version file's patch header (when `isPatch`) and layout, read synchronously (a few small reads). */
const readLayoutNow = (path: string, fd: number, isPatch: boolean): { readonly patch: PatchHeader | undefined; readonly layout: Layout } => {
  const patch = isPatch ? orThrow(decodePatchHeader(readAtNow(path, fd, MAX_PATCH_HEADER_SIZE, 0), path)) : undefined
  const at = patch === undefined ? 0 : patchHeaderSize(patch)
  const header = orThrow(decodeChunkHeader(readAtNow(path, fd, CHUNK_HEADER_SIZE, at), path))
  const tableLength = dataOffset(header) - tableOffset
  const table = readAtNow(path, fd, tableLength, at + tableOffset)
  if (table.length < tableLength) {
    throw new Corruption({ message: `chunk file checksum table truncated in ${path}`, file: path, offset: at + tableOffset + table.length })
  }
  return { patch, layout: { at, header, table } }
}

/** The blocks a range (of the chunk file's data) touches, and their entries in the checksum table. */
const spanIn = (file: OpenVersion, offset: number, length: number) => {
  const { header, table } = file.layout
  const span = blockSpan(header, offset, length)
  const entries = table.subarray(span.tableOffset - tableOffset, span.tableOffset - tableOffset + span.tableLength)
  return { span, entries }
}

/** Reads and verifies only the blocks the range touches: synchronously when they are few, else through the thread pool. */
const readVerified = (file: OpenVersion, offset: number, length: number): Effect.Effect<Uint8Array, Corruption | IoError> => {
  const { entries, span } = spanIn(file, offset, length)
  if (span.blockCount === 0) return Effect.succeed(new Uint8Array(0))
  const at = file.layout.at + span.blocksOffset
  return span.blocksLength <= SYNC_IO_BYTES
    ? runNow<Uint8Array, Corruption | IoError>(() =>
      orThrow(verifyBlocks(file.layout.header, span, entries, readAtNow(file.path, file.fd, span.blocksLength, at), file.path)))
    : Effect.flatMap(readAt(file.path, file.fd, span.blocksLength, at), (blocks) => verifyBlocks(file.layout.header, span, entries, blocks, file.path))
}

/** The ranges of [start, end) outside [from, to). */
const outside = (start: number, end: number, from: number, to: number): Array<[number, number]> => {
  const parts: Array<[number, number]> = []
  if (start < Math.min(end, from)) parts.push([start, Math.min(end, from)])
  if (Math.max(start, to) < end) parts.push([Math.max(start, to), end])
  return parts
}

const NO_BYTES = new Uint8Array(0)

export const makeChunkServiceLocalDisk = (options: { readonly dir: string }) =>
  Effect.gen(function*() {
    const root = NodePath.resolve(options.dir)
    const dirs: Record<Place, string> = {
      staged: NodePath.join(root, "staged"),
      committed: NodePath.join(root, "committed"),
      kept: NodePath.join(root, "kept")
    }
    const freeDir = NodePath.join(root, "free")

    /** Every version the store holds, where its file is, and its patch header if it is a patch. */
    const versions = new Map<string, Stored>()
    /** How many patch files (in any place) name each version as their base. */
    const dependents = new Map<string, number>()
    const patchOf = (id: string) => versions.get(id)?.patch
    const fileName = (id: string) => (patchOf(id) !== undefined ? id + PATCH_SUFFIX : id)
    const pathOf = (place: Place, id: string) => NodePath.join(dirs[place], fileName(id))
    const committedPath = (id: string) => pathOf("committed", id)

    let tempCounter = 0
    const locks = makeKeyedLock()
    const exclusive = (id: string) => <A, E, R>(effect: Effect.Effect<A, E, R>) => locks.withLock(id, effect)

    // --- finding and reading versions --------------------------------------------------------
    // Synchronous (the `…Now` functions throw their typed errors) except for large transfers
    // and fsyncs: see fsCalls.ts.

    /**
     * Open the file of a version the index knows, where the index says it is, else further along
     * its way (a commit or removal may have moved it since the index was read). Undefined when it
     * is not stored, or is only in kept/ and `kept` is false.
     */
    const openStoredNow = (id: string, kept: boolean): { readonly path: string; readonly fd: number } | undefined => {
      const stored = versions.get(id)
      if (stored === undefined || (!kept && stored.place === "kept")) return undefined
      for (const place of PLACES.slice(PLACES.indexOf(stored.place))) {
        if (!kept && place === "kept") break
        const path = pathOf(place, id)
        const fd = openForReadIfExistsNow(path)
        if (fd !== undefined) return { path, fd }
      }
      return undefined
    }

    /**
     * The file holding `holder`'s own bytes (`kept`: also when removed), open (the caller closes
     * it); NotFound when there is none. Patch or whole is read off the file opened, not the
     * index: a repair may have made a patch whole meanwhile.
     */
    const openHolderNow = (holder: string, kept: boolean): Holder => {
      const found = openStoredNow(holder, kept)
      if (found === undefined) throw new NotFound({ message: `chunk version ${holder} not found`, path: committedPath(holder) })
      try {
        const { layout, patch } = readLayoutNow(found.path, found.fd, found.path.endsWith(PATCH_SUFFIX))
        return { path: found.path, fd: found.fd, layout, startsAt: patch?.offset ?? 0 }
      } catch (error) {
        closeNow(found.fd)
        throw error
      }
    }

    /** `length` bytes at `start` of the version, from `holder`'s file, verified; the file is open only meanwhile. */
    const readHolder = (holder: string, kept: boolean, start: number, length: number) =>
      Effect.uninterruptibleMask((restore) =>
        Effect.flatMap(runNow<Holder, NotFound | Corruption | IoError>(() => openHolderNow(holder, kept)), (file) =>
          Effect.ensuring(restore(readVerified(file, start - file.startsAt, length)), Effect.sync(() => closeNow(file.fd))))
      )

    /**
     * Where each byte of [start, end) of `id` comes from, walking its patch chain in memory. A
     * chain may be MAX_PATCH_DEPTH long, and a small read usually misses every patch on its way
     * down: a single range that a patch leaves whole goes on to the base without allocating.
     */
    const piecesOf = (id: string, start: number, end: number): Array<Piece> => {
      const pieces: Array<Piece> = []
      let pending: Array<[number, number]> = start < end ? [[start, end]] : []
      let version = id
      while (pending.length > 0) {
        const patch = patchOf(version)
        if (patch === undefined) {
          for (const [from, to] of pending) pieces.push({ holder: version, start: from, end: to })
          break
        }
        const patchEnd = patch.offset + patch.dataLength
        if (pending.length === 1) {
          const [from, to] = pending[0]!
          if ((to <= patch.offset || from >= patchEnd) && to <= patch.baseLength) {
            version = patch.base
            continue
          }
        }
        const next: Array<[number, number]> = []
        for (const [from, to] of pending) {
          if (Math.max(from, patch.offset) < Math.min(to, patchEnd)) {
            pieces.push({ holder: version, start: Math.max(from, patch.offset), end: Math.min(to, patchEnd) })
          }
          for (const [a, b] of outside(from, to, patch.offset, patchEnd)) {
            if (a < Math.min(b, patch.baseLength)) next.push([a, Math.min(b, patch.baseLength)])
            if (Math.max(a, patch.baseLength) < b) pieces.push({ holder: null, start: Math.max(a, patch.baseLength), end: b })
          }
        }
        pending = next
        version = patch.base
      }
      return pieces
    }

    /**
     * Bytes [start, end) of `id` (within its length), each read from the file that holds it and
     * verified. `kept`: `id` itself may be a removed version (the files below it always may be).
     */
    const readContent = (id: string, start: number, end: number, kept: boolean) =>
      Effect.suspend(() => {
        const pieces = piecesOf(id, start, end)
        // One read per file, over the span of all its pieces: a base under many small patches is
        // read once, not once per gap between them.
        const spans = new Map<string, { start: number; end: number }>()
        for (const piece of pieces) {
          if (piece.holder === null) continue
          const span = spans.get(piece.holder)
          if (span === undefined) spans.set(piece.holder, { start: piece.start, end: piece.end })
          else spans.set(piece.holder, { start: Math.min(span.start, piece.start), end: Math.max(span.end, piece.end) })
        }
        /** A holder's span; each file is closed before the next opens (a chain may be long). */
        const spanBytes = ([holder, span]: [string, { start: number; end: number }]) =>
          readHolder(holder, holder === id ? kept : true, span.start, span.end - span.start).pipe(
            Effect.catchTag("NotFound", (e): Effect.Effect<never, NotFound | Corruption> =>
              holder === id
                ? Effect.fail(e)
                : Effect.fail(new Corruption({ message: `chunk version ${id} needs ${holder}, which is gone`, file: pathOf("kept", holder), offset: 0 }))),
            Effect.filterOrFail(
              (bytes) => bytes.length === span.end - span.start,
              () => new Corruption({ message: `chunk version ${holder} is shorter than ${id} needs`, file: holder, offset: span.end })
            ),
            Effect.map((bytes) => ({ holder, start: span.start, bytes }))
          )
        return Effect.map(Effect.forEach(spans, spanBytes), (read) => {
          if (pieces.length === 1 && read.length === 1) return read[0]!.bytes
          const bytesOf = new Map(read.map((r) => [r.holder, r]))
          const out = new Uint8Array(end - start)
          for (const piece of pieces) {
            if (piece.holder === null) continue
            const { bytes, start: at } = bytesOf.get(piece.holder)!
            out.set(bytes.subarray(piece.start - at, piece.end - at), piece.start - start)
          }
          return out
        })
      })

    /** Length, checksum and chain of a staged or committed version; undefined when there is none. */
    const liveFactsNow = (id: string): VersionFacts | undefined => {
      const stored = versions.get(id)
      if (stored === undefined || stored.place === "kept") return undefined
      if (stored.patch !== undefined) return stored.patch
      if (stored.whole !== undefined) return stored.whole
      let file: Holder
      try {
        file = openHolderNow(id, false)
      } catch (error) {
        if (error instanceof NotFound) return undefined
        throw error
      }
      closeNow(file.fd)
      const { header } = file.layout
      // Its bytes never change (a repair writes the same ones): what its header says holds for good.
      stored.whole = { length: header.dataLength, crc: header.dataCrc, depth: 0, chainBytes: 0 }
      return stored.whole
    }
    const liveFacts = (id: string) => runNow<VersionFacts | undefined, Corruption | IoError>(() => liveFactsNow(id))

    // --- writing ------------------------------------------------------------------------------

    /**
     * Write a version file (the patch header, if a patch; the chunk file of `data`) to a temp
     * file in `place`, fsync it, rename it into place (over any file of that name) and fsync
     * the directory, then record the version there.
     */
    const writeVersion = (place: Place, id: string, data: Uint8Array, checksums: ChunkChecksums, patch?: PatchEntry) =>
      // Uninterruptible: a file renamed into place is always in the index.
      Effect.uninterruptible(Effect.suspend(() => {
        const name = patch === undefined ? id : id + PATCH_SUFFIX
        const parts = [patch === undefined ? NO_BYTES : encodePatchHeader(patch), encodeChunkPrefix(data.length, checksums), data]
        const temp = NodePath.join(dirs[place], `${name}.tmp-${tempCounter++}`)
        return writeFileDurably(temp, NodePath.join(dirs[place], name), parts, pool).pipe(
          Effect.zipRight(syncDir(place)),
          Effect.map(() => {
            const whole = patch === undefined ? { length: data.length, crc: checksums.whole, depth: 0, chainBytes: 0 } : undefined
            versions.set(id, { place, patch, whole })
          })
        )
      }))

    /** A removed version still kept for its patches cannot become a patch itself: that would give one id two files. */
    const refuseKept = (id: string) =>
      versions.get(id)?.place === "kept"
        ? Effect.fail(new InvalidArgument({ message: `chunk version ${id} was removed and cannot be staged again as a patch` }))
        : Effect.void

    /**
     * Staging a removed version that is still kept for its patches brings that file back as
     * staged, if it holds the same bytes (a copy made again, as re-replication does).
     */
    const restoreKept = (id: string, data: Uint8Array) =>
      Effect.gen(function*() {
        const stored = versions.get(id)
        if (stored?.place !== "kept") return false
        const length = stored.patch?.length ?? (yield* runNow<number, NotFound | Corruption | IoError>(() => {
          const file = openHolderNow(id, true)
          closeNow(file.fd)
          return file.layout.header.dataLength
        }))
        const same = length === data.length && sameBytes(yield* readContent(id, 0, length, true), data)
        if (!same) return yield* alreadyDifferent(id)
        // Its last patch may have gone while its bytes were compared, and the file with it.
        const restored = yield* runNow<boolean, IoError>(() => {
          if (versions.get(id) !== stored || stored.place !== "kept") return false
          if (!renameIfExistsNow(pathOf("kept", id), pathOf("staged", id))) return false
          stored.place = "staged"
          return true
        })
        if (!restored) return false
        yield* syncDir("staged")
        yield* syncDir("kept")
        return true
      }).pipe(Effect.catchTag("NotFound", () => Effect.succeed(false)))

    /** Whether the stored version `id` holds exactly `data`; none when it is not stored. */
    const storedMatches = (id: string, data: Uint8Array, checksum: number) =>
      Effect.gen(function*() {
        const facts = yield* liveFacts(id)
        if (facts === undefined) return Option.none<boolean>()
        if (facts.length !== data.length || facts.crc !== checksum) return Option.some(false)
        const stored = yield* readContent(id, 0, data.length, false).pipe(
          // The index holds it and its lock is held: a missing file was lost behind the store's back.
          Effect.catchTag("NotFound", (e) => Effect.fail(new Corruption({ message: e.message, file: committedPath(id), offset: 0 })))
        )
        return Option.some(sameBytes(stored, data))
      })

    const alreadyDifferent = (id: string) => new InvalidArgument({ message: `chunk version ${id} already exists with different bytes` })

    const stage: ChunkServiceShape["stage"] = (versionId, data, checksum) =>
      Effect.gen(function*() {
        const id = yield* checkVersionId(versionId)
        const checksums = yield* checkStagedData(id, data, checksum)
        yield* exclusive(id)(Effect.gen(function*() {
          const matches = yield* storedMatches(id, data, checksum)
          if (Option.isSome(matches)) return matches.value ? undefined : yield* alreadyDifferent(id)
          if (yield* restoreKept(id, data)) return
          yield* writeVersion("staged", id, data, checksums)
        }))
      })

    /** Count a patch (being written, or found at open) against its base, so the base is kept when removed. */
    const depend = (base: string) => dependents.set(base, (dependents.get(base) ?? 0) + 1)

    /** Write the patch version `id` on `base`, or, when the chain is long enough, the version whole. */
    const writePatch = (id: string, patch: ChunkPatch, base: VersionFacts) =>
      Effect.gen(function*() {
        const end = patch.offset + patch.data.length
        const length = Math.max(base.length, end)
        // The base may be removed meanwhile: it is then in kept/, held there by this patch's count.
        const replaced = yield* readContent(patch.base, Math.min(patch.offset, base.length), Math.min(end, base.length), true)
        const checksum = crc32cAfterOverwrite(base.crc, base.length, patch.offset, replaced, patch.data)
        const header: PatchHeader = {
          base: patch.base,
          baseLength: base.length,
          length,
          offset: patch.offset,
          crc: checksum,
          depth: base.depth + 1,
          chainBytes: base.chainBytes + patch.data.length
        }
        if (header.depth > MAX_PATCH_DEPTH || header.chainBytes > length) {
          const whole = patchedBytes(yield* readContent(patch.base, 0, base.length, true), patch.offset, patch.data)
          const checksums = chunkChecksums(whole)
          if (checksums.whole !== checksum) {
            return yield* new Corruption({ message: `chunk version ${patch.base} does not match its own checksum`, file: committedPath(patch.base), offset: 0 })
          }
          yield* writeVersion("staged", id, whole, checksums)
          return { kind: "whole", checksum } as const
        }
        yield* writeVersion("staged", id, patch.data, chunkChecksums(patch.data), patchEntry(header, patch.data.length))
        return { kind: "patch", checksum } as const
      })

    /** The checksum of `id`, already stored: the same patch again is a no-op, anything else a mistake. */
    const restaged = (id: string, patch: ChunkPatch, facts: VersionFacts) =>
      Effect.gen(function*() {
        const stored = patchOf(id)
        const sameShape = stored === undefined ||
          (stored.base === patch.base && stored.offset === patch.offset && stored.dataLength === patch.data.length)
        const bytes = yield* readContent(id, patch.offset, patch.offset + patch.data.length, false)
        if (!sameShape || !sameBytes(bytes, patch.data)) return yield* alreadyDifferent(id)
        return facts.crc
      })

    const stagePatch: ChunkServiceShape["stagePatch"] = (versionId, request) =>
      Effect.gen(function*() {
        const id = yield* checkVersionId(versionId)
        const patch = yield* checkPatch(id, request)
        return yield* exclusive(id)(Effect.gen(function*() {
          const existing = yield* liveFacts(id)
          if (existing !== undefined) return yield* restaged(id, patch, existing)
          yield* refuseKept(id)
          // Counted before the base is read, so a removal racing this keeps it; released again
          // unless a patch file now names it.
          depend(patch.base)
          const written = yield* Effect.gen(function*() {
            const base = yield* liveFacts(patch.base)
            if (base === undefined) return yield* new NotFound({ message: `base chunk version ${patch.base} not found`, path: committedPath(patch.base) })
            if (base.crc !== patch.baseChecksum) return yield* baseDiffers(id, patch, base.crc)
            return yield* writePatch(id, patch, base)
          }).pipe(
            Effect.onExit((exit) =>
              Exit.isSuccess(exit) && exit.value.kind === "patch"
                ? Effect.void
                : Effect.ignore(runNow(() => releaseNow(patch.base, new Set()))))
          )
          return written.checksum
        }))
      })

    // Whole, in the version's place; a patch file it replaces goes after (a crash between leaves
    // both, and the index built at open takes the whole one), and its base is released.
    const repair: ChunkServiceShape["repair"] = (versionId, data, checksum) =>
      Effect.gen(function*() {
        const id = yield* checkVersionId(versionId)
        const checksums = yield* checkStagedData(id, data, checksum)
        yield* exclusive(id)(Effect.uninterruptible(Effect.gen(function*() {
          const stored = versions.get(id)
          if (stored === undefined || stored.place === "kept") return yield* new NotFound({ message: `chunk version ${id} not found`, path: committedPath(id) })
          yield* writeVersion(stored.place, id, data, checksums)
          if (stored.patch === undefined) return
          yield* unlinkIfExists(NodePath.join(dirs[stored.place], id + PATCH_SUFFIX))
          yield* syncDir(stored.place)
          const touched = new Set<Place>()
          yield* runNow<void, IoError>(() => releaseNow(stored.patch!.base, touched))
          yield* syncTouched(touched)
        })))
      })

    // --- commit and removal ---------------------------------------------------------------------

    // No directory fsync: the bytes were durable when staged, and a rename lost in a crash only
    // leaves the version staged, where it is still read and the collector commits it again.
    const commit: ChunkServiceShape["commit"] = (versionIds) =>
      Effect.gen(function*() {
        for (const id of versionIds) yield* checkVersionId(id)
        const missing: Array<string> = []
        for (const id of versionIds) {
          yield* exclusive(id)(runNow<void, IoError>(() => {
            const stored = versions.get(id)
            if (stored === undefined || stored.place === "kept") return void missing.push(id)
            if (stored.place === "committed") return
            if (renameIfExistsNow(pathOf("staged", id), committedPath(id))) stored.place = "committed"
            else missing.push(id)
          }))
        }
        if (missing.length > 0) {
          return yield* new NotFound({ message: `chunk versions neither staged nor committed: ${missing.join(", ")}`, path: pathOf("staged", missing[0]!) })
        }
      })

    /**
     * `base` lost a dependent patch. When it was the last and `base` is in kept/, it is deleted,
     * and so on down its chain. Synchronous; `touched` collects the directories changed.
     */
    const releaseNow = (base: string, touched: Set<Place>): void => {
      const left = (dependents.get(base) ?? 1) - 1
      if (left > 0) return void dependents.set(base, left)
      dependents.delete(base)
      const stored = versions.get(base)
      if (stored?.place === "kept") dropNow(base, stored, touched)
    }

    /**
     * Delete a version's file. It leaves the index first, in the same step as the caller's look
     * at its dependents: a patch staged from then on finds no such base, instead of being written
     * on one about to go. Then its base, if it was a patch, loses a dependent.
     */
    const dropNow = (id: string, stored: Stored, touched: Set<Place>): void => {
      const path = pathOf(stored.place, id)
      versions.delete(id)
      // A patch file is small: worth keeping to be written over (filePool.ts); a whole one is not.
      if (stored.patch === undefined || !pool.giveNow(path, patchFileBytes(stored.patch))) unlinkIfExistsNow(path)
      touched.add(stored.place)
      if (stored.patch !== undefined) releaseNow(stored.patch.base, touched)
    }

    /**
     * Take `id` out of `places`: into kept/ while patches need it, else deleted. Runs under id's
     * lock; synchronous, so the index always says where the file is.
     */
    const discard = (id: string, places: ReadonlyArray<Place>, touched: Set<Place>) =>
      runNow<void, IoError>(() => {
        const stored = versions.get(id)
        if (stored === undefined || !places.includes(stored.place)) return
        if ((dependents.get(id) ?? 0) === 0) return dropNow(id, stored, touched)
        // A reader that looked at the index before this step finds the file further along (openStoredNow).
        const from = stored.place
        renameIfExistsNow(pathOf(from, id), pathOf("kept", id))
        stored.place = "kept"
        touched.add(from).add("kept")
      })

    // Each directory changed is synced once, at the end: the removal is then durable.
    const syncTouched = (touched: Set<Place>) => Effect.forEach(touched, syncDir, { discard: true })

    const abort: ChunkServiceShape["abort"] = (versionId) =>
      Effect.gen(function*() {
        const id = yield* checkVersionId(versionId)
        const touched = new Set<Place>()
        yield* exclusive(id)(discard(id, ["staged"], touched))
        yield* syncTouched(touched)
      })

    const remove: ChunkServiceShape["remove"] = (versionIds) =>
      Effect.gen(function*() {
        for (const id of versionIds) yield* checkVersionId(id)
        const touched = new Set<Place>()
        for (const id of versionIds) yield* exclusive(id)(discard(id, ["staged", "committed"], touched))
        yield* syncTouched(touched)
      })

    const read: ChunkServiceShape["read"] = (versionId, offset, length) =>
      Effect.gen(function*() {
        const id = yield* checkVersionId(versionId)
        yield* checkRange(offset, length)
        const stored = versions.get(id)
        if (stored === undefined || stored.place === "kept") return yield* new NotFound({ message: `chunk version ${id} not found`, path: committedPath(id) })
        if (stored.patch === undefined) return yield* readHolder(id, false, offset, length)
        const start = Math.min(offset, stored.patch.length)
        return yield* readContent(id, start, Math.min(start + length, stored.patch.length), false)
      })

    const list: ChunkServiceShape["list"] = Effect.sync(() => {
      const staged: Array<string> = []
      const committed: Array<string> = []
      for (const [id, { place }] of versions) {
        if (place === "staged") staged.push(id)
        else if (place === "committed") committed.push(id)
      }
      return { staged: staged.sort(), committed: committed.sort() }
    })

    // --- opening ------------------------------------------------------------------------------

    for (const place of PLACES) yield* makeDir(dirs[place])
    yield* makeDir(freeDir)
    yield* fsyncDir(root)
    const pool = makeFilePool(freeDir, yield* readDir(freeDir))
    // Kept open for the store's life: syncing a directory is then one call, not three.
    const dirFds: Record<Place, number> = {
      staged: yield* openScoped(dirs.staged, "r"),
      committed: yield* openScoped(dirs.committed, "r"),
      kept: yield* openScoped(dirs.kept, "r")
    }
    const syncDir = (place: Place) => fsyncFd(dirs[place], dirFds[place])

    // The index, from the directories and every patch header. A temp file is a write that never
    // returned, a staged copy of a committed version a commit whose rename was not yet durable in
    // both directories: neither is needed (a lost unlink means the same cleanup at the next
    // open). A damaged patch header leaves that patch out: it reads as missing, and a reader goes
    // to another replica.
    for (const place of ["committed", "staged", "kept"] as const) {
      // Whole files first: a patch file beside the whole one of the same id is what a repair
      // had not yet deleted.
      const names = [...yield* readDir(dirs[place])].sort((a, b) => Number(a.endsWith(PATCH_SUFFIX)) - Number(b.endsWith(PATCH_SUFFIX)))
      for (const name of names) {
        const isPatch = name.endsWith(PATCH_SUFFIX)
        const id = isPatch ? name.slice(0, -PATCH_SUFFIX.length) : name
        const path = NodePath.join(dirs[place], name)
        const leftover = TEMP_FILE.test(name) || (place === "staged" && versions.has(id)) ||
          (isPatch && versions.get(id)?.place === place)
        if (leftover) {
          yield* unlinkIfExists(path)
          continue
        }
        if (!VERSION_ID_PATTERN.test(id) || versions.has(id)) continue
        if (!isPatch) {
          versions.set(id, { place, patch: undefined })
          continue
        }
        const read = yield* runNow<Option.Option<ReturnType<typeof readLayoutNow>>, Corruption | IoError>(() => {
          const fd = openForReadIfExistsNow(path)
          if (fd === undefined) return Option.none()
          try {
            return Option.some(readLayoutNow(path, fd, true))
          } finally {
            closeNow(fd)
          }
        }).pipe(
          Effect.catchTag("Corruption", (e) => Effect.as(Effect.logWarning(`chunk store: ${e.message}; the patch is left out`), Option.none()))
        )
        if (Option.isNone(read) || read.value.patch === undefined) continue
        const { layout, patch } = read.value
        versions.set(id, { place, patch: patchEntry(patch, layout.header.dataLength) })
        depend(patch.base)
      }
    }

    // Kept files nothing reads from any more: their last dependent went while the store was down.
    const touched = new Set<Place>()
    for (const [id, { place }] of [...versions]) {
      if (place !== "kept" || (dependents.get(id) ?? 0) > 0 || !versions.has(id)) continue
      dependents.set(id, 1)
      yield* runNow<void, IoError>(() => releaseNow(id, touched))
    }
    yield* syncTouched(touched)

    return { stage, stagePatch, repair, commit, abort, read, remove, list } satisfies ChunkServiceShape
  })

export const ChunkServiceLocalDisk = (options: { readonly dir: string }): Layer.Layer<ChunkService, IoError> =>
  Layer.scoped(ChunkService, makeChunkServiceLocalDisk(options))
