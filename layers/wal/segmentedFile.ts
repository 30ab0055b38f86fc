/**
 * WriteAheadLog in segment files `wal-<16-digit seq>.log` in one directory.
 *
 * One writer owns the files (inline appends aside: below). Appends queue up; whenever it has
 * nothing in hand the writer takes every queued append, writes them with one positional write
 * and one fdatasync, and completes them all, so appends that arrive during an fsync share the
 * next one (group commit). The writer is a few callbacks, not a fiber: a fiber taking from a
 * queue and completing a Deferred per append cost about 40 Effect operations per append, on
 * every node for every entry; the effects it needs (rotating a segment, rewriting the log) are
 * rare and run on the layer's runtime. The write is
 * synchronous (it only copies into the page cache, tens of microseconds) and only the
 * fdatasync goes to the thread pool: each trip there and back costs a wake-up of the event
 * loop, ~80 µs of CPU on this machine. A segment past `segmentBytes` is closed and the next
 * batch starts a new one.
 *
 * `rewrite` (compaction) writes a new segment as a tmp file headed by a base marker, fsyncs
 * it, renames it into place, fsyncs the directory and only then deletes the older segments.
 * Recovery reads segments from the newest back to the newest base marker and ignores (and
 * deletes) everything older, so a crash at any point finds the old log or the new one. The
 * marker records the length of the content the rewrite made durable: damage inside it is
 * Corruption, never mistaken for a torn tail, which protects the snapshot it usually holds.
 *
 * An append marked `inline` (a Raft follower's) skips the writer and the thread pool when the
 * writer has nothing queued or in hand: its write and a blocking fdatasync run right in the
 * caller, which spares two thread wake-ups (on a busy 2-core machine ~0.8 ms of a follower's
 * answer to its leader, for a ~60 µs fdatasync) at the cost of the whole process waiting on
 * the disk meanwhile. One that took over SLOW_INLINE_FSYNC_MILLIS sends the next second of
 * inline appends through the writer, so a slow or stalling disk blocks the loop once, not on
 * every append.
 *
 * Any I/O error leaves the files in an unknown state (after a failed fsync the kernel may
 * have dropped the dirty pages), so it fails the log: every later append fails too, and the
 * node must restart and recover.
 */
import { Cause, Effect, Exit, Layer, Metric, Option, Runtime } from "effect"
import * as fs from "node:fs/promises"
import { fdatasync, fdatasyncSync, writeSync } from "node:fs"
import * as path from "node:path"
import { closeQuietly, io, ioError, syncDirectory, writeAllAt } from "../fileIo.ts"
import { Corruption, IoError } from "../../src/domain/errors.ts"
import { decodeSegment, type DecodedSegment, encodedSize, encodeRecords } from "../../src/raft/walCodec.ts"
import { type AppendOptions, type WalRecord, WriteAheadLog, type WriteAheadLogShape } from "../../src/services/WriteAheadLog.ts"

export interface WriteAheadLogFileOptions {
  readonly dir: string
  /** A segment that would grow past this many bytes is closed and a new one begun (default 64 MiB). */
  readonly segmentBytes?: number
}

/** Data fsyncs (append batches and rewrites); with `dir` as a tag, one log's count. */
export const walFsyncs = Metric.counter("sandstore_wal_fsyncs_total", {
  description: "fsyncs of write-ahead log data (one per group-committed batch of appends, one per rewrite)",
  incremental: true
})

/** The fsync counter of the log in `dir`. */
export const walFsyncsOf = (dir: string) => Metric.tagged(walFsyncs, "dir", dir)

/** An inline fdatasync slower than this pauses inline appends for INLINE_PAUSE_MILLIS. */
const SLOW_INLINE_FSYNC_MILLIS = 2
const INLINE_PAUSE_MILLIS = 1000

/** Reserved record type heading a rewritten segment; its payload is the durable content length (u64 LE). */
const BASE_MARKER_TYPE = 0xff
const BASE_MARKER_BYTES = 8

const segmentPattern = /^wal-(\d{16})\.log$/
const tmpPattern = /^wal-\d{16}\.log\.tmp$/
const segmentName = (seq: number) => `wal-${String(seq).padStart(16, "0")}.log`

/** `bytes` written at `position`, without the thread pool: for the appends, whose bytes go to the page cache. Throws. */
const writeAllAtNow = (fd: number, bytes: Uint8Array, position: number) => {
  let written = 0
  while (written < bytes.length) written += writeSync(fd, bytes, written, bytes.length - written, position + written)
}

/** The IoError an effect of the writer failed with (any other failure, a bug, as one too). */
const ioFailure = (cause: Cause.Cause<IoError>, file: string): IoError =>
  Option.getOrElse(Cause.failureOption(cause), () => ioError("write", file, Cause.pretty(cause)))

const baseMarker = (contentLength: number): WalRecord => {
  const payload = new Uint8Array(BASE_MARKER_BYTES)
  new DataView(payload.buffer).setBigUint64(0, BigInt(contentLength), true)
  return { type: BASE_MARKER_TYPE, payload }
}

interface FoundSegment {
  readonly seq: number
  readonly file: string
  readonly size: number
  readonly decoded: DecodedSegment
}

const isBase = (segment: FoundSegment) => segment.decoded.records[0]?.type === BASE_MARKER_TYPE

/** Check that `segments` (oldest first, from the newest base on) form a whole log. */
const checkContinuity = (segments: ReadonlyArray<FoundSegment>): Effect.Effect<void, Corruption> =>
  Effect.gen(function*() {
    const first = segments[0]
    if (first === undefined) return
    if (isBase(first)) {
      const marker = first.decoded.records[0]!
      if (marker.payload.length !== BASE_MARKER_BYTES) {
        return yield* new Corruption({ message: `WAL base marker of ${first.file} is malformed`, file: first.file, offset: 0 })
      }
      const durable = Number(new DataView(marker.payload.buffer, marker.payload.byteOffset, 8).getBigUint64(0, true))
      if (first.decoded.validLength < durable) {
        return yield* new Corruption({
          message: `WAL segment ${first.file} is damaged at offset ${first.decoded.validLength}, inside content made durable by compaction`,
          file: first.file,
          offset: first.decoded.validLength
        })
      }
    } else if (first.seq !== 1) {
      return yield* new Corruption({
        message: `WAL segments before ${first.file} are missing (it is neither the first segment nor a compacted one)`,
        file: first.file
      })
    }
    for (let i = 1; i < segments.length; i++) {
      if (segments[i]!.seq !== segments[i - 1]!.seq + 1) {
        return yield* new Corruption({
          message: `WAL segment ${segmentName(segments[i - 1]!.seq + 1)} is missing before ${segments[i]!.file}`,
          file: segments[i]!.file
        })
      }
    }
  })

interface Recovered {
  readonly segments: ReadonlyArray<FoundSegment>
  readonly records: ReadonlyArray<WalRecord>
}

/** Read the log back: drop leftovers of interrupted rewrites, verify, truncate a torn tail. */
const recover = (dir: string): Effect.Effect<Recovered, IoError | Corruption> =>
  Effect.gen(function*() {
    const created = yield* io("create directory", dir, () => fs.mkdir(dir, { recursive: true }))
    if (created !== undefined) yield* syncDirectory(path.dirname(path.resolve(dir)))
    const names = yield* io("list", dir, () => fs.readdir(dir))
    const seqs = names.flatMap((name) => {
      const match = segmentPattern.exec(name)
      return match ? [Number(match[1])] : []
    }).sort((a, b) => a - b)

    const segments: Array<FoundSegment> = []
    for (let i = seqs.length - 1; i >= 0; i--) {
      const seq = seqs[i]!
      const file = path.join(dir, segmentName(seq))
      const bytes = yield* io("read", file, () => fs.readFile(file))
      const decoded = yield* decodeSegment(bytes, file, i === seqs.length - 1)
      const segment: FoundSegment = { seq, file, size: bytes.length, decoded }
      segments.unshift(segment)
      if (isBase(segment)) break
    }
    yield* checkContinuity(segments)

    // Older than the newest base: a rewrite made them obsolete but crashed before deleting them.
    const firstKept = segments[0]?.seq ?? Infinity
    const obsolete = [
      ...names.filter((name) => tmpPattern.test(name)),
      ...seqs.filter((seq) => seq < firstKept).map(segmentName)
    ]
    for (const name of obsolete) yield* io("remove", path.join(dir, name), () => fs.unlink(path.join(dir, name)))
    if (obsolete.length > 0) yield* syncDirectory(dir)

    const last = segments[segments.length - 1]
    if (last !== undefined && last.decoded.validLength < last.size) {
      yield* Effect.acquireUseRelease(
        io("open", last.file, () => fs.open(last.file, "r+")),
        (handle) =>
          io("truncate torn tail of", last.file, () => handle.truncate(last.decoded.validLength)).pipe(
            Effect.zipRight(io("fsync", last.file, () => handle.sync()))
          ),
        closeQuietly
      )
    }

    const records = segments.flatMap((segment) =>
      isBase(segment) ? segment.decoded.records.slice(1) : segment.decoded.records
    )
    return { segments, records }
  })

interface OpenSegment {
  readonly seq: number
  readonly file: string
  readonly handle: fs.FileHandle
  readonly size: number
}

interface AppendRequest {
  readonly _tag: "Append"
  readonly bytes: Uint8Array
}

interface RewriteRequest {
  readonly _tag: "Rewrite"
  readonly records: ReadonlyArray<WalRecord>
}

type Request = AppendRequest | RewriteRequest

const make = (options: WriteAheadLogFileOptions) =>
  Effect.gen(function*() {
    const dir = options.dir
    const segmentBytes = options.segmentBytes ?? 64 * 1024 * 1024
    if (!(segmentBytes > 0)) return yield* Effect.dieMessage(`segmentBytes must be positive, got ${segmentBytes}`)
    const fsyncs = walFsyncsOf(dir)
    const clock = yield* Effect.clock

    const recovered = yield* recover(dir)
    const tail = recovered.segments[recovered.segments.length - 1]

    // The writer's state (and an inline append's, when the writer has nothing in hand);
    // the finalizer closes whatever segment is open at the end.
    let current: OpenSegment
    if (tail === undefined) {
      const file = path.join(dir, segmentName(1))
      const handle = yield* io("create", file, () => fs.open(file, "wx"))
      current = { seq: 1, file, handle, size: 0 }
      yield* Effect.addFinalizer(() => closeQuietly(current.handle))
      yield* syncDirectory(dir)
    } else {
      const handle = yield* io("open", tail.file, () => fs.open(tail.file, "r+"))
      current = { seq: tail.seq, file: tail.file, handle, size: tail.decoded.validLength }
      yield* Effect.addFinalizer(() => closeQuietly(current.handle))
    }
    let older: Array<string> = recovered.segments.slice(0, -1).map((segment) => segment.file)
    let failure: IoError | undefined

    const startSegment = (seq: number, file: string, handle: fs.FileHandle, size: number) =>
      Effect.gen(function*() {
        const previous = current
        current = { seq, file, handle, size }
        yield* closeQuietly(previous.handle)
        return previous.file
      })

    const rotate = Effect.gen(function*() {
      const seq = current.seq + 1
      const file = path.join(dir, segmentName(seq))
      const handle = yield* io("create", file, () => fs.open(file, "wx"))
      older.push(yield* startSegment(seq, file, handle, 0))
      yield* syncDirectory(dir)
    })

    /** Requests taken by the writer or waiting for it. */
    interface Waiting {
      readonly request: Request
      readonly resume: (result: Effect.Effect<void, IoError>) => void
    }
    let queued: Array<Waiting> = []
    /** Whether the writer has a batch or a rewrite in hand (an fdatasync or a rewrite under way). */
    let inHand = false
    /** Called once nothing is in hand: the finalizer waits for the writer to let go of the file. */
    let onIdle: (() => void) | undefined
    /** Inline appends pause until then (clock millis) after one whose fdatasync was slow. */
    let inlinePausedUntil = 0

    /**
     * Write `bytes` and make them durable right here, blocking the caller's thread, if nothing
     * is queued ahead of them, they fit the open segment (rotating is the writer's job) and the
     * disk has been quick: the outcome, or undefined to queue them instead. The checks and the
     * write are one synchronous step, so no other append or rewrite can come in between.
     */
    const appendInline = (bytes: Uint8Array): Effect.Effect<void, IoError> | undefined => {
      if (failure !== undefined) return Effect.fail(failure)
      const started = clock.unsafeCurrentTimeMillis()
      if (inHand || queued.length > 0 || started < inlinePausedUntil) return undefined
      const segment = current
      if (segment.size > 0 && segment.size + bytes.length > segmentBytes) return undefined
      try {
        writeAllAtNow(segment.handle.fd, bytes, segment.size)
        fdatasyncSync(segment.handle.fd)
      } catch (cause) {
        failure = ioError("append", segment.file, cause)
        return Effect.fail(failure)
      }
      current = { ...segment, size: segment.size + bytes.length }
      // A slow disk (a stall, or chunk writes crowding the journal) must not freeze the node's
      // loop again and again: the thread pool takes the appends for a while.
      if (clock.unsafeCurrentTimeMillis() - started > SLOW_INLINE_FSYNC_MILLIS) inlinePausedUntil = started + INLINE_PAUSE_MILLIS
      fsyncs.unsafeUpdate(1, [])
      return Effect.void
    }

    const rewriteLog = (records: ReadonlyArray<WalRecord>) =>
      Effect.gen(function*() {
        const seq = current.seq + 1
        const file = path.join(dir, segmentName(seq))
        const tmp = `${file}.tmp`
        let contentLength = encodedSize(baseMarker(0))
        for (const record of records) contentLength += encodedSize(record)
        const content = encodeRecords([baseMarker(contentLength), ...records])
        yield* Effect.acquireUseRelease(
          io("create", tmp, () => fs.open(tmp, "w")),
          (handle) =>
            writeAllAt(handle, tmp, content, 0).pipe(Effect.zipRight(io("fsync", tmp, () => handle.sync()))),
          closeQuietly
        )
        yield* Metric.increment(fsyncs)
        yield* io("rename", tmp, () => fs.rename(tmp, file))
        yield* syncDirectory(dir)
        // From here recovery finds the new segment and ignores the older ones.
        const handle = yield* io("open", file, () => fs.open(file, "r+"))
        const obsolete = [...older, yield* startSegment(seq, file, handle, content.length)]
        older = []
        for (const old of obsolete) yield* io("remove", old, () => fs.unlink(old))
        yield* syncDirectory(dir)
      })

    const runtime = yield* Effect.runtime<never>()
    const runEffect = Runtime.runCallback(runtime)

    /** The writer has finished with `taken`: answer them (an error fails the log) and take what queued meanwhile. */
    const finish = (taken: ReadonlyArray<Waiting>, error: IoError | undefined) => {
      if (error !== undefined) failure ??= error
      inHand = false
      const result = error === undefined ? Effect.void : Effect.fail(error)
      for (const waiting of taken) waiting.resume(result)
      if (queued.length > 0) pump()
      else if (onIdle !== undefined) onIdle()
    }

    /** One positional write and one fdatasync on the thread pool for `bytes`, every append of `batch`. */
    const writeBatch = (batch: ReadonlyArray<Waiting>, bytes: Uint8Array) => {
      if (current.size > 0 && current.size + bytes.length > segmentBytes) {
        // Rare (once per segment): a new file and a directory fsync, as an effect.
        return runEffect(rotate, {
          onExit: (exit) => Exit.isFailure(exit) ? finish(batch, ioFailure(exit.cause, current.file)) : writeBatch(batch, bytes)
        })
      }
      const segment = current
      // Whatever throws here fails the batch (and the log): nothing may leave the writer in hand.
      try {
        writeAllAtNow(segment.handle.fd, bytes, segment.size)
        fdatasync(segment.handle.fd, (error) => {
          if (error !== null) return finish(batch, ioError("fdatasync", segment.file, error))
          // Nothing else writes while a batch is in hand: `current` is still `segment`.
          current = { ...segment, size: segment.size + bytes.length }
          fsyncs.unsafeUpdate(1, [])
          finish(batch, undefined)
        })
      } catch (cause) {
        finish(batch, ioError("write", segment.file, cause))
      }
    }

    /**
     * Take the next work, unless some is in hand: a rewrite alone, or every append queued
     * before the next rewrite as one batch.
     */
    const pump = (): void => {
      if (inHand || queued.length === 0) return
      if (failure !== undefined) {
        const refused = queued
        queued = []
        return finish(refused, failure)
      }
      inHand = true
      const first = queued[0]!
      if (first.request._tag === "Rewrite") {
        queued = queued.slice(1)
        runEffect(rewriteLog(first.request.records), {
          onExit: (exit) => finish([first], Exit.isFailure(exit) ? ioFailure(exit.cause, dir) : undefined)
        })
        return
      }
      const parts: Array<Uint8Array> = []
      for (const waiting of queued) {
        if (waiting.request._tag !== "Append") break
        parts.push(waiting.request.bytes)
      }
      const batch = queued.slice(0, parts.length)
      queued = queued.slice(parts.length)
      writeBatch(batch, parts.length === 1 ? parts[0]! : Buffer.concat(parts))
    }

    const submit = (request: Request) =>
      Effect.async<void, IoError>((resume) => {
        if (failure !== undefined) return resume(Effect.fail(failure))
        queued.push({ request, resume })
        pump()
      })

    const closed = new IoError({ message: `write-ahead log ${dir} is closed` })
    // From now on appends fail; the segment's handle closes (an earlier finalizer) only once
    // the writer has let go of it.
    yield* Effect.addFinalizer(() =>
      Effect.async<void>((resume) => {
        failure ??= closed
        const refused = queued
        queued = []
        for (const waiting of refused) waiting.resume(Effect.fail(closed))
        if (!inHand) return resume(Effect.void)
        onIdle = () => resume(Effect.void)
      })
    )

    const service: WriteAheadLogShape = {
      recovered: recovered.records,
      append: (records, appendOptions?: AppendOptions) =>
        records.length === 0 ? Effect.void : Effect.suspend(() => {
          if (records.some((record) => record.type === BASE_MARKER_TYPE)) {
            return Effect.dieMessage(`WAL record type ${BASE_MARKER_TYPE} is reserved for the log itself`)
          }
          const bytes = encodeRecords(records)
          return (appendOptions?.inline === true ? appendInline(bytes) : undefined) ?? submit({ _tag: "Append", bytes })
        }),
      rewrite: (records) =>
        Effect.suspend(() =>
          records.some((record) => record.type === BASE_MARKER_TYPE)
            ? Effect.dieMessage(`WAL record type ${BASE_MARKER_TYPE} is reserved for the log itself`)
            : submit({ _tag: "Rewrite", records })
        )
    }
    return service
  })

export const WriteAheadLogFile = (options: WriteAheadLogFileOptions): Layer.Layer<WriteAheadLog, IoError | Corruption> =>
  Layer.scoped(WriteAheadLog, make(options))
