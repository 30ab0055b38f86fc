/**
 * What each phase does. A phase sets up its workers for one concurrency level (untimed), each
 * worker on its own client, and everything a worker opens is released with the level's scope:
 * handles are closed whether the run ends, fails or is interrupted.
 *
 *   write    appends blocks to its own new file, one Write + sync per block (the durable write),
 *            moving to a new file when the next block would pass the file size
 *   read     reads blocks in order from a data file, starting over at the end of the file (a
 *            short read, itself an operation), and checks every block against the pattern
 *            written there; a mismatch is an error
 *   stat     stats existing data files
 *   create   open(O_CREAT | O_EXCL) + close of a new name
 *   listdir  lists a directory prepared with a known number of entries
 *   overwrite  writes one block at a random block-aligned offset of its own file of the file size
 *            (written untimed first), one Write + sync per block: the random small durable write
 */
import { Effect, type Scope } from "effect"
import type { ClientError } from "../client/errors.ts"
import type { FileHandle } from "../client/FileHandle.ts"
import { O_CREAT, O_EXCL, O_WRONLY } from "../client/OpenFlags.ts"
import type { SandstoreClientShape } from "../client/SandstoreClient.ts"
import { type BlockPattern, type DataFile, DataFiles } from "./dataFiles.ts"
import { type OperationFailure, UnexpectedResult, type Worker } from "./measure.ts"
import type { PhaseName } from "./phaseResult.ts"

const CREATE_NEW = O_CREAT | O_EXCL | O_WRONLY

const MiB = 1024 * 1024

/** Blocks in each file the bench writes itself for read and stat when no write phase ran before them. */
export const preparedBlocks = (blockSize: number, fileSize: number): number =>
  Math.max(1, Math.min(Math.floor(fileSize / blockSize), Math.max(16, Math.floor(4 * MiB / blockSize))))

export interface BenchContext {
  /** the run's directory: /bench-<run id> */
  readonly directory: string
  /** one client per worker, as many as the highest concurrency level */
  readonly clients: ReadonlyArray<SandstoreClientShape>
  readonly blockSize: number
  readonly fileSize: number
  readonly listdirEntries: number
  readonly pattern: BlockPattern
  readonly dataFiles: DataFiles
  /** data files to read and stat: the write phase's, or files written now (once) if there are none */
  readonly sourceFiles: Effect.Effect<ReadonlyArray<DataFile>, OperationFailure>
  /** the directory listdir lists, filled with `listdirEntries` entries (once) */
  readonly listing: Effect.Effect<string, OperationFailure>
}

const range = (n: number): ReadonlyArray<number> => Array.from({ length: n }, (_, i) => i)

/** The worker's own client. */
const clientOf = (context: BenchContext, worker: number): SandstoreClientShape => context.clients[worker % context.clients.length]!

/** Creates an empty file that must not exist yet, and closes it. */
const createEmpty = (client: SandstoreClientShape, path: string): Effect.Effect<void, ClientError> =>
  Effect.scoped(Effect.flatMap(client.openScoped(path, CREATE_NEW), (handle) => handle.close))

/** A new data file of `blocks` blocks of the pattern, written (untimed) and closed. */
const writeDataFile = (context: BenchContext, client: SandstoreClientShape, blocks: number) =>
  Effect.scoped(Effect.gen(function*() {
    const file = context.dataFiles.allocate("prepared")
    const handle = yield* client.openScoped(file.path, CREATE_NEW)
    for (let index = 0; index < blocks; index++) yield* handle.write(context.pattern.block(file.seed, index))
    yield* handle.close
    file.bytes = blocks * context.blockSize
    return file
  }))

export const makeContext = (
  options: Omit<BenchContext, "dataFiles" | "sourceFiles" | "listing">
): Effect.Effect<BenchContext> =>
  Effect.gen(function*() {
    const { clients, directory } = options
    const dataFiles = new DataFiles(`${directory}/data`)
    const client = clients[0]!

    const prepareFiles = Effect.gen(function*() {
      yield* client.mkdir(dataFiles.directory, { recursive: true })
      const blocks = preparedBlocks(options.blockSize, options.fileSize)
      return yield* Effect.forEach(clients, (owner) => writeDataFile(context, owner, blocks), { concurrency: "unbounded" })
    })

    const prepareListing = Effect.gen(function*() {
      const listing = `${directory}/listdir`
      yield* client.mkdir(listing)
      yield* Effect.forEach(
        range(options.listdirEntries),
        (k) => createEmpty(clients[k % clients.length]!, `${listing}/entry-${k}`),
        { concurrency: clients.length, discard: true }
      )
      return listing
    })

    const preparedFiles = yield* Effect.cached(prepareFiles)
    const context: BenchContext = {
      ...options,
      dataFiles,
      sourceFiles: Effect.suspend(() =>
        dataFiles.nonEmpty.length > 0 ? Effect.succeed(dataFiles.nonEmpty) : preparedFiles
      ),
      listing: yield* Effect.cached(prepareListing)
    }
    return context
  })

// --- workers ------------------------------------------------------------------------------

const writer = (context: BenchContext, client: SandstoreClientShape, label: string) =>
  Effect.gen(function*() {
    const { blockSize, fileSize, pattern } = context
    let current: { readonly handle: FileHandle; readonly file: DataFile } | undefined
    yield* Effect.addFinalizer(() => current === undefined ? Effect.void : Effect.ignore(current.handle.close))

    const openNext = Effect.gen(function*() {
      if (current !== undefined) {
        yield* current.handle.close
        current = undefined
      }
      const file = context.dataFiles.allocate(label)
      current = { handle: yield* client.open(file.path, CREATE_NEW), file }
    })

    const worker: Worker = {
      prepare: Effect.suspend(() =>
        current === undefined
          ? openNext
          : Effect.flatMap(current.handle.position, (end) => end + blockSize > fileSize ? openNext : Effect.void)
      ),
      operation: Effect.suspend(() => {
        const { file, handle } = current!
        return Effect.gen(function*() {
          // The handle's position, not the acknowledged size: a block whose sync failed is still
          // buffered ahead of this one and goes out with the next sync.
          const offset = yield* handle.position
          yield* handle.write(pattern.block(file.seed, offset / blockSize))
          yield* handle.sync
          file.bytes = offset + blockSize
          return blockSize
        })
      })
    }
    return worker
  })

/** xorshift32 from a nonzero seed: the overwrite offsets, the same in every run. */
const offsetsFrom = (seed: number) => {
  let state = (Math.imul(seed, 2654435761) >>> 0) || 1
  return (bound: number): number => {
    state ^= state << 13
    state >>>= 0
    state ^= state >>> 17
    state ^= state << 5
    state >>>= 0
    return state % bound
  }
}

const overwriter = (context: BenchContext, client: SandstoreClientShape) =>
  Effect.gen(function*() {
    const { blockSize, pattern } = context
    const blocks = Math.floor(context.fileSize / blockSize)
    const file = yield* writeDataFile(context, client, blocks)
    const handle = yield* client.openScoped(file.path, "r+")
    const nextBlock = offsetsFrom(file.seed)
    const worker: Worker = {
      prepare: Effect.void,
      // The block's own pattern bytes again: a new version on every replica, and the file stays readable and checkable.
      operation: Effect.suspend(() => {
        const block = nextBlock(blocks)
        return Effect.as(
          Effect.zipRight(handle.write(pattern.block(file.seed, block), block * blockSize), handle.sync),
          blockSize
        )
      })
    }
    return worker
  })

const reader = (context: BenchContext, client: SandstoreClientShape, file: DataFile) =>
  Effect.gen(function*() {
    const { blockSize, pattern } = context
    const handle = yield* client.openScoped(file.path, "r")
    let offset = 0
    const worker: Worker = {
      prepare: Effect.void,
      operation: Effect.gen(function*() {
        const at = offset
        const data = yield* handle.read(blockSize, at)
        // A short read is the end of the file: start over from the beginning.
        offset = data.length < blockSize ? 0 : at + data.length
        if (data.length === 0 && at === 0) return yield* new UnexpectedResult({ message: `${file.path} is empty` })
        if (!pattern.matches(file.seed, at, data)) {
          return yield* new UnexpectedResult({
            message: `${file.path}: the ${data.length} bytes read at offset ${at} are not the bytes written there`
          })
        }
        return data.length
      })
    }
    return worker
  })

const statter = (client: SandstoreClientShape, files: ReadonlyArray<DataFile>, first: number, step: number): Worker => {
  let next = first
  return {
    prepare: Effect.void,
    operation: Effect.suspend(() => {
      const file = files[next % files.length]!
      next += step
      return Effect.flatMap(client.stat(file.path), (stats) =>
        stats.isFile() && stats.size >= file.bytes
          ? Effect.succeed(0)
          : Effect.fail(new UnexpectedResult({ message: `${file.path}: stat says ${stats.isFile() ? `${stats.size} bytes` : "not a file"}, ${file.bytes} bytes were written` })))
    })
  }
}

const creator = (client: SandstoreClientShape, prefix: string): Worker => {
  let next = 0
  return {
    prepare: Effect.void,
    operation: Effect.suspend(() => Effect.as(createEmpty(client, `${prefix}-${next++}`), 0))
  }
}

const lister = (context: BenchContext, client: SandstoreClientShape, directory: string): Worker => ({
  prepare: Effect.void,
  operation: Effect.flatMap(client.readdir(directory), (names) =>
    names.length === context.listdirEntries
      ? Effect.succeed(0)
      : Effect.fail(new UnexpectedResult({ message: `${directory}: listed ${names.length} entries, expected ${context.listdirEntries}` })))
})

type SetUp = (context: BenchContext, concurrency: number) => Effect.Effect<ReadonlyArray<Worker>, OperationFailure, Scope.Scope>

/** The workers of one run of each phase at `concurrency`. */
export const setUpWorkers: Record<PhaseName, SetUp> = {
  write: (context, concurrency) =>
    Effect.zipRight(
      context.clients[0]!.mkdir(context.dataFiles.directory, { recursive: true }),
      Effect.forEach(range(concurrency), (i) => writer(context, clientOf(context, i), `write-c${concurrency}-w${i}`))
    ),
  overwrite: (context, concurrency) =>
    Effect.zipRight(
      context.clients[0]!.mkdir(context.dataFiles.directory, { recursive: true }),
      Effect.forEach(range(concurrency), (i) => overwriter(context, clientOf(context, i)), { concurrency: "unbounded" })
    ),
  read: (context, concurrency) =>
    Effect.flatMap(context.sourceFiles, (files) =>
      Effect.forEach(range(concurrency), (i) => reader(context, clientOf(context, i), files[i % files.length]!))),
  stat: (context, concurrency) =>
    Effect.map(context.sourceFiles, (files) =>
      range(concurrency).map((i) => statter(clientOf(context, i), files, i, concurrency))),
  create: (context, concurrency) => {
    const directory = `${context.directory}/create`
    return Effect.as(
      context.clients[0]!.mkdir(directory, { recursive: true }),
      range(concurrency).map((i) => creator(clientOf(context, i), `${directory}/c${concurrency}-w${i}`))
    )
  },
  listdir: (context, concurrency) =>
    Effect.map(context.listing, (directory) => range(concurrency).map((i) => lister(context, clientOf(context, i), directory)))
}
