/**
 * An open file: a position, a write-behind buffer, a window of Writes in flight and the inode it
 * names. Writes are buffered up to 2 MiB and sent in pieces that never cross a chunk boundary
 * nor exceed MAX_TRANSFER_BYTES; a non-contiguous write sends the run before it, and a write too
 * large to buffer goes out as it is. Sending does not wait for the answer: up to the window's
 * bytes are in flight at once (WriteWindow), and a write waits only for room. Reads, stat,
 * truncate, sync and close wait for every piece to be answered, so a handle always sees its own
 * writes, and sync means durable. A piece whose outcome is unknown is resent under its first
 * ticket by the next call that sends or waits, which fails if it cannot be; a later sync or
 * close writes it. A read of REPLICA_READ_FROM bytes or more is planned by the leader and its
 * bytes fetched from a replica (ReplicaReads), and a sequential reader's next pieces are on their
 * way before it asks (ReadAhead); a smaller read is one Read through the leader. Operations are
 * serialized per handle; after close they fail with EBADF.
 */
import { Effect, type Scope } from "effect"
import { InvalidArgument } from "../domain/errors.ts"
import type { Attributes, InodeId } from "../domain/fs.ts"
import { MAX_TRANSFER_BYTES } from "../protocol/ClientApi.ts"
import { BadFileDescriptor, type ClientError, withPath } from "./errors.ts"
import type { Invoker } from "./Invoker.ts"
import type { OpenFlags } from "./OpenFlags.ts"
import { Stats } from "./Stats.ts"
import { pieces, WriteBuffer } from "./WriteBuffer.ts"
import { makeWriteWindow, WRITE_WINDOW_BYTES } from "./WriteWindow.ts"
import type { ReplicaReads } from "./ReplicaReads.ts"
import { makeReadAhead } from "./ReadAhead.ts"
import { concatBytes } from "../lib/concatBytes.ts"
import { copyBytes } from "../lib/copyBytes.ts"
import { crc32c } from "../lib/crc32c.ts"

export interface ReadResult<B extends Uint8Array = Uint8Array> {
  readonly bytesRead: number
  readonly buffer: B
}

export interface ReadIntoOptions {
  /** where in `buffer` to start filling (default 0) */
  readonly offset?: number
  /** how many bytes to read (default: the rest of `buffer`) */
  readonly length?: number
  /** file offset; null or absent reads at the handle's position and advances it */
  readonly position?: number | null
}

export interface FileHandle {
  readonly path: string
  readonly inode: InodeId
  /** Where the next read or write without a position goes. */
  readonly position: Effect.Effect<number>
  /** The file's size as far as this handle knows (its last answer from the node, and its own writes). */
  readonly knownSize: Effect.Effect<number>
  /** Up to `length` bytes from `position` (or the handle's position, advancing it); short only at EOF. */
  readonly read: (length: number, position?: number | null) => Effect.Effect<Uint8Array, ClientError>
  /** node's read into a buffer. */
  readonly readInto: <B extends Uint8Array>(buffer: B, options?: ReadIntoOptions) => Effect.Effect<ReadResult<B>, ClientError>
  /** Buffers `data` at `position` (or the handle's position, advancing it); resolves with bytes written. */
  readonly write: (data: Uint8Array, position?: number | null) => Effect.Effect<number, ClientError>
  /** Flushes; resolves when every byte written so far is durable. */
  readonly sync: Effect.Effect<void, ClientError>
  readonly truncate: (length?: number) => Effect.Effect<void, ClientError>
  readonly stat: Effect.Effect<Stats, ClientError>
  /** Flushes and closes. If the flush fails the handle stays open with its bytes. Closing twice is a no-op. */
  readonly close: Effect.Effect<void, ClientError>
}

export interface FileHandleOptions {
  readonly invoker: Invoker
  readonly path: string
  readonly attributes: Attributes
  readonly flags: OpenFlags
  readonly chunkSize: number
  readonly bufferBytes?: number
  /** Bytes of Writes in flight at once (default WRITE_WINDOW_BYTES). */
  readonly windowBytes?: number
  /** Where Writes in flight and reads ahead run: outlives any one call (the client's scope). */
  readonly scope: Scope.Scope
  /** How large reads fetch bytes from the replicas. */
  readonly replicaReads: ReplicaReads
  /** Pieces read ahead of a sequential reader (default READ_AHEAD_PIECES). */
  readonly readAheadPieces?: number
  /** called once the handle is closed */
  readonly onClose: Effect.Effect<void>
}


/** Reads of at least this many bytes fetch them from the replicas (a plan, then the bytes); smaller ones are one Read through the leader. */
export const REPLICA_READ_FROM = 256 * 1024

/** Pieces a sequential reader's handle keeps on their way ahead of it, by default. */
export const READ_AHEAD_PIECES = 2

const isCount = (n: number) => Number.isSafeInteger(n) && n >= 0

/** `length` bytes at `offset` of a caller's buffer, if they lie inside it (node: ERR_OUT_OF_RANGE). */
export const bufferRange = (
  buffer: Uint8Array,
  offset: number,
  length: number,
  path: string
): Effect.Effect<Uint8Array, InvalidArgument> =>
  isCount(offset) && isCount(length) && offset + length <= buffer.length
    ? Effect.succeed(buffer.subarray(offset, offset + length))
    : Effect.fail(new InvalidArgument({ message: `offset ${offset} and length ${length} do not fit a ${buffer.length}-byte buffer`, path }))

export const make = (options: FileHandleOptions): Effect.Effect<FileHandle> =>
  Effect.gen(function*() {
    const { chunkSize, flags, invoker, path, replicaReads } = options
    const inode = options.attributes.inode
    const lock = yield* Effect.makeSemaphore(1)
    const buffer = new WriteBuffer(options.bufferBytes)
    let closed = false
    let cursor = 0
    /** the file's size as far as this handle knows: the node's last answer and our own writes */
    let knownSize = options.attributes.size
    const window = makeWriteWindow({
      send: (offset, data, ticket) => {
        const checksum = crc32c(data)
        return invoker.mutateAs(ticket, (api, request) => api.Write({ inode, offset, data, checksum, request, append: flags.append }))
      },
      ticket: invoker.ticket,
      chunkSize,
      maxBytes: options.windowBytes ?? WRITE_WINDOW_BYTES,
      // With O_APPEND the node places each piece at the file's end as of its commit: one at a time, in order.
      ordered: flags.append,
      scope: options.scope,
      onAnswer: (attributes) => {
        // With O_APPEND `offset` was only this handle's guess; the answer's size is the truth,
        // plus what this handle has buffered after the piece.
        if (flags.append) {
          knownSize = attributes.size + buffer.length
          cursor = knownSize
        } else {
          knownSize = Math.max(knownSize, attributes.size)
        }
      }
    })

    const serialized = <A>(effect: Effect.Effect<A, ClientError>) =>
      lock.withPermits(1)(Effect.suspend(() => effect)).pipe(Effect.mapError(withPath(path)))

    const badFd = (message: string) => new BadFileDescriptor({ message, path })
    const requireOpen = Effect.suspend(() => (closed ? Effect.fail(badFd("file handle is closed")) : Effect.void))
    // Errors are built when raised, not per handle: each captures a stack trace.
    const requireReadable = Effect.zipRight(
      requireOpen,
      flags.read ? Effect.void : Effect.failSync(() => badFd("file handle is not open for reading"))
    )
    const requireWritable = Effect.zipRight(
      requireOpen,
      flags.write ? Effect.void : Effect.failSync(() => badFd("file handle is not open for writing"))
    )
    const checkCount = (name: string, n: number) =>
      isCount(n) ? Effect.void : Effect.fail(new InvalidArgument({ message: `${name} must be a non-negative integer, got ${n}`, path }))

    /** Hands the buffered bytes to the window, piece by piece; each leaves the buffer as the window takes it. */
    const sendBuffered = Effect.gen(function*() {
      while (!buffer.isEmpty) {
        const [piece] = pieces(buffer.offset, buffer.length, chunkSize, MAX_TRANSFER_BYTES)
        yield* window.launch(piece!.offset, buffer.peek(piece!.length), () => buffer.consume(piece!.length))
      }
    })

    /** Every byte written so far sent and answered. */
    const flush = Effect.zipRight(sendBuffered, window.drain)

    /** A write too large to buffer, straight to the window (copied: the caller may reuse its buffer). */
    const writeThrough = (offset: number, data: Uint8Array) =>
      Effect.forEach(
        pieces(offset, data.length, chunkSize, MAX_TRANSFER_BYTES),
        (piece) => window.launch(piece.offset, copyBytes(data.subarray(piece.offset - offset, piece.offset - offset + piece.length))),
        { discard: true }
      )

    const readAhead = makeReadAhead({ inode, replicaReads, scope: options.scope, pieces: options.readAheadPieces ?? READ_AHEAD_PIECES })

    /** Where the last read ended: a read that starts there is sequential, and only those read ahead. */
    let readEnd = 0

    /** At most MAX_TRANSFER_BYTES: a small piece is one Read through the leader, a large one comes from the replicas. */
    const readPiece = (offset: number, length: number) =>
      length < REPLICA_READ_FROM
        ? Effect.tap(Effect.zipLeft(invoker.query((api) => api.Read({ inode, offset, length })), readAhead.drop), (data) => {
          readEnd = offset + data.length
        })
        : Effect.gen(function*() {
          const sequential = offset === readEnd
          const { data, plan } = yield* readAhead.read(offset, length)
          readEnd = offset + data.length
          if (sequential && data.length === length) yield* readAhead.extend(offset, length, plan.attributes.size)
          return data
        })

    const readRange = (offset: number, length: number) =>
      Effect.gen(function*() {
        const parts: Array<Uint8Array> = []
        let got = 0
        while (got < length) {
          const want = Math.min(length - got, MAX_TRANSFER_BYTES)
          const data = yield* readPiece(offset + got, want)
          parts.push(data)
          got += data.length
          if (data.length < want) break
        }
        return concatBytes(parts, got)
      })

    const read = (length: number, position?: number | null) =>
      serialized(Effect.gen(function*() {
        yield* requireReadable
        yield* checkCount("length", length)
        if (position != null) yield* checkCount("position", position)
        yield* flush
        const data = yield* readRange(position ?? cursor, length)
        if (position == null) cursor += data.length
        return data
      }))

    const handle: FileHandle = {
      path,
      inode,
      position: Effect.sync(() => cursor),
      knownSize: Effect.sync(() => knownSize),
      read,
      readInto: (target, into = {}) => {
        const offset = into.offset ?? 0
        const length = into.length ?? target.length - offset
        return Effect.flatMap(bufferRange(target, offset, length, path), () =>
          Effect.map(read(length, into.position), (data) => {
            target.set(data, offset)
            return { bytesRead: data.length, buffer: target }
          }))
      },
      write: (data, position) =>
        serialized(Effect.gen(function*() {
          yield* requireWritable
          if (position != null) yield* checkCount("position", position)
          // O_APPEND: every write goes to the end of the file, whatever position is given.
          const offset = flags.append ? knownSize : position ?? cursor
          if (data.length === 0) return 0
          if (!buffer.isEmpty && !buffer.fits(offset, data.length)) yield* sendBuffered
          if (data.length < buffer.capacity && buffer.fits(offset, data.length)) buffer.append(offset, data)
          else yield* writeThrough(offset, data)
          if (position == null || flags.append) cursor = offset + data.length
          knownSize = Math.max(knownSize, offset + data.length)
          return data.length
        })),
      sync: serialized(Effect.zipRight(requireOpen, flush)),
      truncate: (length = 0) =>
        serialized(Effect.gen(function*() {
          yield* requireWritable
          yield* checkCount("length", length)
          yield* flush
          yield* invoker.mutate((api, request) => api.SetAttr({ inode, changes: { size: length }, request }))
          knownSize = length
        })),
      stat: serialized(Effect.gen(function*() {
        yield* requireOpen
        yield* flush
        const attributes = yield* invoker.query((api) => api.GetAttr({ inode }))
        knownSize = attributes.size
        return new Stats(attributes, chunkSize)
      })),
      close: serialized(Effect.gen(function*() {
        if (closed) return
        yield* flush
        yield* readAhead.drop
        closed = true
        yield* options.onClose
      }))
    }
    return handle
  })
