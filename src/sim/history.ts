/**
 * The history of a simulated run: every client operation's invocation and completion, in the
 * order the simulation saw them. Checkers (src/sim/check/*) read only this. Times are
 * simulated milliseconds (TestClock).
 *
 * A completion is `ok` (it happened, with this result), `fail` (it definitely did not happen:
 * a typed refusal such as NotFound or AlreadyExists, whose error is recorded), or `info`
 * (indeterminate: a timeout or lost connection — it may or may not have happened, now or
 * later). Linearizability treats an `info` operation as possibly taking effect at any point
 * after its invocation.
 */

/** Whole-file content is identified by the seed that generated it (or null for empty). */
export type Content = { readonly seed: number; readonly length: number } | null

export type Operation =
  /** Replace the file's whole content (create it if missing). */
  | { readonly f: "write"; readonly path: string; readonly content: Content }
  /** Read the whole file: its content id as reconstructed from the bytes, or absent. */
  | { readonly f: "read"; readonly path: string }
  /** O_CREAT|O_EXCL create of an empty file. */
  | { readonly f: "create"; readonly path: string }
  | { readonly f: "unlink"; readonly path: string }
  | { readonly f: "mkdir"; readonly path: string }
  | { readonly f: "rmdir"; readonly path: string }
  | { readonly f: "rename"; readonly path: string; readonly to: string }
  | { readonly f: "truncate"; readonly path: string; readonly size: number }
  /** Write `length` bytes of pattern `seed` at `offset` into an existing file (ranges, sparse offsets). */
  | {
    readonly f: "pwrite"
    readonly path: string
    readonly offset: number
    readonly seed: number
    readonly length: number
    /**
     * If the write's outcome is unknown (a timeout, a lost reply), the client keeps its handle
     * and syncs again this much later: the same piece is resent under the same session request,
     * maybe after the session expired. Absent: the client gives up at once.
     */
    readonly resendAfterMillis?: number
  }
  | { readonly f: "readdir"; readonly path: string }
  /**
   * Append record `record` (src/sim/appendLog.ts) to the append-only log file with O_APPEND;
   * may resend later like a pwrite. The log is outside the namespace model: its checker counts
   * each record's copies (exactly once for an acknowledged append, at most once otherwise).
   */
  | { readonly f: "append"; readonly path: string; readonly record: number; readonly resendAfterMillis?: number }

/** What an `ok` completion returned. */
export type Result =
  | { readonly _tag: "Done" }
  | { readonly _tag: "Content"; readonly content: Content }
  | { readonly _tag: "Bytes"; readonly bytes: Uint8Array }
  | { readonly _tag: "Names"; readonly names: ReadonlyArray<string> }

export type Event =
  | { readonly type: "invoke"; readonly id: number; readonly client: number; readonly time: number; readonly op: Operation }
  | { readonly type: "ok"; readonly id: number; readonly client: number; readonly time: number; readonly result: Result }
  /** `error` is the error's tag (NotFound, AlreadyExists, NotEmpty, ...). */
  | { readonly type: "fail"; readonly id: number; readonly client: number; readonly time: number; readonly error: string }
  | { readonly type: "info"; readonly id: number; readonly client: number; readonly time: number; readonly error: string }

export type History = ReadonlyArray<Event>

/** A checker's verdict; on a violation, `subHistory` is a minimal failing part of the history. */
export type Verdict =
  | { readonly valid: true; readonly checked: number }
  | { readonly valid: false; readonly reason: string; readonly subHistory: History }
