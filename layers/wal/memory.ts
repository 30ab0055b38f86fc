/**
 * A simulated disk holding one write-ahead log, for tests and whole-cluster simulation. It
 * tells written from durable as a real disk does: an append is written at once (in record
 * format, through the real codec) but becomes durable only at its fsync step, and one fsync
 * covers every record written before it began (group commit). `crash()` is a power loss:
 * records not yet fsynced vanish, except those a test says reached the platter anyway, and
 * the next one may be torn in half. Opening the log again (building `layer` anew, as a
 * restarted node does) recovers the durable bytes with the real segment decoder, so a torn
 * tail is truncated exactly as on disk.
 *
 * fsyncs can be held (`holdFsync`) to freeze a node between "written" and "durable", and can
 * take time on the Clock (`fsyncDelay`), so TestClock runs stay deterministic. An fsync is one
 * sleep on the Clock and nothing else: the simulation does thousands per simulated minute.
 */
import { Duration, Effect, Exit, Layer, Runtime } from "effect"
import { type Corruption, IoError } from "../../src/domain/errors.ts"
import { decodeSegment, encodeRecords } from "../../src/raft/walCodec.ts"
import { type WalRecord, WriteAheadLog, type WriteAheadLogShape } from "../../src/services/WriteAheadLog.ts"
import { concatBytes } from "../../src/lib/concatBytes.ts"

export interface SimulatedWalOptions {
  /** Clock time each fsync takes (default 0), or a function drawing it per fsync in milliseconds (a disk with latency spikes). */
  readonly fsyncDelay?: Duration.DurationInput | (() => number)
}

export interface CrashOptions {
  /** How many of the unsynced writes (appends or rewrites, oldest first) reached the disk anyway (default 0). */
  readonly keep?: number
  /** Whether half of the next unsynced append reached the disk: a torn tail (default false). */
  readonly tear?: boolean
}

export interface SimulatedWal {
  /** Open the log on this disk: a node booting. Fails with Corruption as the file log would. */
  readonly layer: Layer.Layer<WriteAheadLog, Corruption>
  /** From now on fsyncs wait: appends are written but do not become durable or return. */
  readonly holdFsync: Effect.Effect<void>
  readonly releaseFsync: Effect.Effect<void>
  /** Power loss: the open log stops working (its operations fail with IoError) and unsynced writes vanish. */
  readonly crash: (options?: CrashOptions) => Effect.Effect<void>
  /** fsyncs performed since the disk was made. */
  readonly fsyncs: Effect.Effect<number>
  /** Writes (appends, rewrites) not yet durable. */
  readonly unsynced: Effect.Effect<number>
  /** What a log opened now would recover. */
  readonly durableRecords: Effect.Effect<ReadonlyArray<WalRecord>, Corruption>
}

const DISK_NAME = "simulated-wal"

/** A write that reached the page cache: appended records, or a whole rewritten log. */
type Written =
  | { readonly _tag: "Append"; readonly seq: number; readonly bytes: Uint8Array }
  | { readonly _tag: "Rewrite"; readonly seq: number; readonly content: Uint8Array }

export const makeSimulatedWal = (options: SimulatedWalOptions = {}): Effect.Effect<SimulatedWal> =>
  Effect.gen(function*() {
    const configured = options.fsyncDelay ?? 0
    const fixedMillis = typeof configured === "function" ? 0 : Duration.toMillis(Duration.decode(configured))
    const delayMillis = typeof configured === "function" ? configured : () => fixedMillis
    /** Whether fsyncs wait (holdFsync), and the one that waits to start. */
    let held = false
    let heldStart: (() => void) | null = null
    const runtime = yield* Effect.runtime<never>()
    const runFsync = Runtime.runCallback(runtime)

    let durable: Array<Uint8Array> = []
    let written: Array<Written> = []
    let writtenSeq = 0
    let durableSeq = 0
    let fsyncs = 0
    // Bumped by every crash and every open: a log opened before it has lost its disk.
    let generation = 0
    /** Writes waiting for an fsync to cover them, in order. */
    let waiting: Array<{ readonly seq: number; readonly resume: (result: Effect.Effect<void, IoError>) => void }> = []
    /** Whether an fsync is under way (one at a time, as the file log's writer does them). */
    let syncing = false

    const crashed = new IoError({ message: "the simulated disk of this write-ahead log crashed", path: DISK_NAME })

    /** Put `writes` on the platter in order: a rewrite replaces everything before it. */
    const land = (writes: ReadonlyArray<Written>) => {
      for (const write of writes) {
        if (write._tag === "Append") durable.push(write.bytes)
        else durable = [write.content]
      }
    }

    const recover = Effect.suspend(() => decodeSegment(concatBytes(durable), DISK_NAME, true))

    /** Answer every waiting write: those up to `seq` with `result`, all of them when `seq` is Infinity. */
    const answer = (seq: number, result: Effect.Effect<void, IoError>) => {
      const covered = waiting.filter((write) => write.seq <= seq)
      waiting = waiting.filter((write) => write.seq > seq)
      for (const write of covered) write.resume(result)
    }

    /** The fsync ends: everything written by now becomes durable. */
    const landWritten = () => {
      const upTo = writtenSeq
      land(written.filter((write) => write.seq <= upTo))
      written = written.filter((write) => write.seq > upTo)
      durableSeq = upTo
      fsyncs++
    }

    /**
     * Start an fsync unless one is under way (or wait for the hold to end): its time on the
     * Clock, then everything written by its end is durable and the writes it covered are
     * answered (group commit: writes arriving meanwhile wait for the next one), and the next
     * starts. A log that lost its disk meanwhile failed its writes then, and the next life's
     * fsyncs do not wait for this one, which lands nothing.
     */
    const startFsync = (): void => {
      if (syncing || waiting.length === 0) return
      syncing = true
      const mine = generation
      const finish = (failure: Effect.Effect<never> | null) => {
        if (mine !== generation) return
        syncing = false
        // A defect (in drawing the fsync's time, say) reaches the writes instead of a retry loop.
        if (failure !== null) return answer(Infinity, failure)
        landWritten()
        answer(durableSeq, Effect.void)
        startFsync()
      }
      const run = () => {
        heldStart = null
        if (mine !== generation) return
        let millis: number
        try {
          millis = delayMillis()
        } catch (defect) {
          return finish(Effect.die(defect))
        }
        if (!(millis > 0)) return finish(null)
        runFsync(Effect.sleep(Duration.millis(millis)), {
          onExit: (exit) => finish(Exit.isFailure(exit) ? Effect.failCause(exit.cause) : null)
        })
      }
      if (held) heldStart = run
      else run()
    }

    /** The open log lost its disk (a crash, or the log opened again): its waiting writes fail. */
    const loseDisk = () => {
      generation++
      syncing = false
      answer(Infinity, Effect.fail(crashed))
    }

    const open = Effect.gen(function*() {
      const decoded = yield* recover
      loseDisk()
      const mine = generation
      // Recovery truncates a torn tail.
      durable = [encodeRecords(decoded.records)]
      written = []
      writtenSeq = 0
      durableSeq = 0

      const write = (make: (seq: number) => Written) =>
        Effect.async<void, IoError>((resume) => {
          if (mine !== generation) return resume(Effect.fail(crashed))
          const seq = ++writtenSeq
          written.push(make(seq))
          waiting.push({ seq, resume })
          startFsync()
        })

      const service: WriteAheadLogShape = {
        recovered: decoded.records,
        append: (records) =>
          records.length === 0 ? Effect.void : write((seq) => ({ _tag: "Append", seq, bytes: encodeRecords(records) })),
        rewrite: (records) => write((seq) => ({ _tag: "Rewrite", seq, content: encodeRecords(records) }))
      }
      return service
    })

    return {
      layer: Layer.effect(WriteAheadLog, open),
      holdFsync: Effect.sync(() => {
        held = true
      }),
      releaseFsync: Effect.sync(() => {
        held = false
        heldStart?.()
      }),
      crash: (crashOptions = {}) =>
        Effect.sync(() => {
          // Writes of the crashed log fail now; an fsync under way lands nothing.
          loseDisk()
          const keep = Math.max(0, crashOptions.keep ?? 0)
          land(written.slice(0, keep))
          const next = written[keep]
          if (crashOptions.tear === true && next?._tag === "Append" && next.bytes.length > 0) {
            durable.push(next.bytes.subarray(0, Math.max(1, next.bytes.length >> 1)))
          }
          written = []
        }),
      fsyncs: Effect.sync(() => fsyncs),
      unsynced: Effect.sync(() => written.length),
      durableRecords: Effect.map(recover, (decoded) => decoded.records)
    } satisfies SimulatedWal
  })
