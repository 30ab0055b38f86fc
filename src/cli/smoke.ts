/**
 * The smoke scenario of REFERENCE.md as one reusable Effect: POSIX-ish behaviour of a running
 * cluster checked end to end through the SDK, step by step. Everything happens under a fresh
 * directory `/smoke-<run id>` (removed at the end when every step held), and every byte pattern
 * derives from the run id, so a failing run can be replayed with the same id.
 *
 * Steps come in groups that share state (an open handle, a file written by the step before): a
 * failed step skips the rest of its group, reported as failed ("not run"), so each step line
 * stands on its own and the scenario always runs to the end.
 */
import { Cause, Context, Data, Duration, Effect, Exit, Layer, Logger, LogLevel, Option, Random, Scope } from "effect"
import type { Unavailable } from "../domain/errors.ts"
import { crc32c } from "../lib/crc32c.ts"
import { Communicator } from "../services/Communicator.ts"
import type { ClientError } from "../client/errors.ts"
import type { FileHandle } from "../client/FileHandle.ts"
import { O_CREAT, O_WRONLY } from "../client/OpenFlags.ts"
import { SandstoreClient, type SandstoreClientShape } from "../client/SandstoreClient.ts"
import { patternBytes } from "../lib/patternBytes.ts"

export interface StepResult {
  readonly name: string
  readonly ok: boolean
  /** why the step failed; undefined when it held */
  readonly reason: string | undefined
}

export interface SmokeReport {
  readonly runId: string
  /** the directory the run worked in */
  readonly directory: string
  readonly steps: ReadonlyArray<StepResult>
  /** every step held (and the directory was removed) */
  readonly passed: boolean
}

export interface SmokeOptions {
  /** host:port of nodes to connect to */
  readonly seeds: ReadonlyArray<string>
  /** names the directory and seeds the byte patterns (default: random from `Random`) */
  readonly runId?: string
  /** called as each step ends, in order (the CLI prints a line) */
  readonly onStep?: (step: StepResult) => Effect.Effect<void>
  /** bound on one step, so a hung cluster fails the step instead of the run (default 2 minutes) */
  readonly stepTimeout?: Duration.DurationInput
}

/** A check of the scenario did not hold. */
export class CheckFailed extends Data.TaggedError("CheckFailed")<{ readonly message: string }> {}

type StepError = ClientError | CheckFailed

interface Step {
  readonly name: string
  readonly run: Effect.Effect<void, StepError>
}

const KiB = 1024
const MiB = 1024 * 1024

// --- checks -------------------------------------------------------------------------------

const check = (condition: boolean, message: string): Effect.Effect<void, CheckFailed> =>
  condition ? Effect.void : Effect.fail(new CheckFailed({ message }))

/** Fails unless `effect` fails with the POSIX `code` (EBADF, ENOENT, ...). */
const failsWith = <A>(what: string, code: string, effect: Effect.Effect<A, ClientError>): Effect.Effect<void, CheckFailed> =>
  Effect.matchEffect(effect, {
    onSuccess: () => Effect.fail(new CheckFailed({ message: `${what} succeeded, expected ${code}` })),
    onFailure: (error) =>
      error.code === code
        ? Effect.void
        : Effect.fail(new CheckFailed({ message: `${what}: expected ${code}, got ${error.code}: ${error.message}` }))
  })

/** Fails unless `actual` is exactly `expected`, naming the first differing byte. */
const sameBytes = (what: string, actual: Uint8Array, expected: Uint8Array): Effect.Effect<void, CheckFailed> => {
  if (actual.length === expected.length && Buffer.compare(actual, expected) === 0) return Effect.void
  const n = Math.min(actual.length, expected.length)
  let at = 0
  while (at < n && actual[at] === expected[at]) at++
  return Effect.fail(
    new CheckFailed({
      message: `${what}: got ${actual.length} bytes, expected ${expected.length}` +
        (at < n ? `; first difference at byte ${at}` : "")
    })
  )
}

const describeError = (error: StepError): string =>
  error._tag === "CheckFailed"
    ? error.message
    : `${error.code}${"path" in error && error.path !== undefined ? ` ${error.path}` : ""}: ${error.message}`

// --- deterministic bytes ------------------------------------------------------------------


const hex32 = Effect.map(Random.nextIntBetween(0, 2 ** 32), (n) => n.toString(16).padStart(8, "0"))

// --- the scenario -------------------------------------------------------------------------

/** Two clients: `fs` does the work, `observer` checks what another client sees. */
interface Clients {
  readonly fs: SandstoreClientShape
  readonly observer: SandstoreClientShape
}

interface Run {
  readonly dir: string
  /** the connected clients; only steps after the connect step use them */
  readonly clients: Effect.Effect<Clients>
  /** one more client of the seeds, closed with the scope */
  readonly connect: Effect.Effect<SandstoreClientShape, Unavailable, Scope.Scope>
  /** the pattern of `length` bytes for the file role `salt` */
  readonly bytes: (length: number, salt: number) => Uint8Array
}

/** A client of `seeds`, closed with the scope (open handles flushed). */
const connectClient = (seeds: ReadonlyArray<string>): Effect.Effect<SandstoreClientShape, Unavailable, Communicator | Scope.Scope> =>
  Effect.map(Layer.build(SandstoreClient.layer({ seeds })), (context) => Context.get(context, SandstoreClient))

const createEmpty = (run: Run): ReadonlyArray<Step> => {
  const path = `${run.dir}/a`
  return [{
    name: `create ${path} and read it empty`,
    run: Effect.gen(function*() {
      const { fs, observer } = yield* run.clients
      const handle = yield* fs.open(path, "w+")
      const data = yield* handle.read(KiB, 0)
      yield* check(data.length === 0, `read of a new file returned ${data.length} bytes`)
      const size = (yield* handle.stat).size
      yield* check(size === 0, `a new file has size ${size}`)
      yield* handle.close
      yield* sameBytes("a second client's read", yield* observer.readFile(path), new Uint8Array(0))
    })
  }]
}

const bufferedWrites = (run: Run): ReadonlyArray<Step> => {
  const path = `${run.dir}/buffered`
  const sizes = [MiB, 1.5 * MiB, 1.5 * MiB]
  /** where each write starts */
  const starts = sizes.map((_, i) => sizes.slice(0, i).reduce((a, b) => a + b, 0))
  const total = sizes.reduce((a, b) => a + b, 0)
  const tail = 4 * KiB
  const data = run.bytes(total + tail, 1)
  let handle: FileHandle

  const visible = (length: number) =>
    Effect.flatMap(run.clients, ({ observer }) => observer.readFile(path)).pipe(
      Effect.flatMap((bytes) => sameBytes("a second client's read", bytes, data.subarray(0, length)))
    )

  const steps = sizes.map((size, i): Step => ({
    name: `write ${size / MiB} MiB to ${path}, sync: exactly ${(starts[i]! + size) / MiB} MiB visible to a second client`,
    run: Effect.gen(function*() {
      const { fs } = yield* run.clients
      if (i === 0) handle = yield* fs.open(path, "w")
      yield* handle.write(data.subarray(starts[i]!, starts[i]! + size))
      // The first write fits the 2 MiB write buffer: nothing is sent before the sync.
      if (i === 0) yield* visible(0)
      yield* handle.sync
      yield* visible(starts[i]! + size)
    })
  }))

  return [
    ...steps,
    {
      name: `fsync ${path}: ${total / MiB} MiB durable`,
      run: Effect.gen(function*() {
        yield* handle.sync
        const size = (yield* handle.stat).size
        yield* check(size === total, `size after fsync is ${size}, expected ${total}`)
      })
    },
    {
      name: `close ${path} flushes a last buffered write`,
      run: Effect.gen(function*() {
        yield* handle.write(data.subarray(total))
        yield* handle.close
        yield* visible(total + tail)
      })
    },
    {
      name: `operations on the closed handle of ${path} fail with EBADF`,
      run: Effect.gen(function*() {
        yield* failsWith("read", "EBADF", handle.read(1, 0))
        yield* failsWith("write", "EBADF", handle.write(new Uint8Array(1)))
        yield* failsWith("sync", "EBADF", handle.sync)
        yield* failsWith("stat", "EBADF", handle.stat)
        yield* failsWith("truncate", "EBADF", handle.truncate(0))
        // Closing twice is a no-op, and the file is untouched.
        yield* handle.close
        yield* visible(total + tail)
      })
    }
  ]
}

const removal = (run: Run): ReadonlyArray<Step> => {
  const closed = `${run.dir}/removed-closed`
  const open = `${run.dir}/removed-open`
  return [
    {
      name: `remove closed file ${closed}`,
      run: Effect.gen(function*() {
        const { fs, observer } = yield* run.clients
        yield* fs.writeFile(closed, run.bytes(100 * KiB, 2))
        yield* fs.unlink(closed)
        yield* failsWith("stat after remove", "ENOENT", observer.stat(closed))
        yield* failsWith("open after remove", "ENOENT", observer.open(closed, "r"))
        const names = yield* observer.readdir(run.dir)
        yield* check(!names.includes("removed-closed"), "the removed file is still listed")
      })
    },
    {
      name: `remove open file ${open}: its handle's flush fails with ENOENT, the name is free again`,
      run: Effect.gen(function*() {
        const { fs, observer } = yield* run.clients
        const synced = run.bytes(64 * KiB, 3)
        // A client of its own: the handle keeps its unflushed bytes (as documented), so it can
        // never close cleanly; its client's scope ends with this step.
        const writer = yield* run.connect
        const handle = yield* writer.open(open, "w")
        yield* handle.write(synced)
        yield* handle.sync
        yield* handle.write(run.bytes(64 * KiB, 4))
        yield* fs.unlink(open)
        yield* failsWith("sync of the removed file's handle", "ENOENT", handle.sync)
        yield* failsWith("close of the removed file's handle", "ENOENT", handle.close)
        yield* failsWith("stat after remove", "ENOENT", observer.stat(open))
        // The node is healthy, and the old handle names the removed inode, never the new file.
        const fresh = run.bytes(KiB, 5)
        yield* fs.writeFile(open, fresh)
        yield* failsWith("sync of the removed file's handle after the name was reused", "ENOENT", handle.sync)
        yield* sameBytes("the new file at the same name", yield* observer.readFile(open), fresh)
      }).pipe(
        Effect.scoped,
        // The client's close reports the handle's lost bytes, which this step just asserted.
        Logger.withMinimumLogLevel(LogLevel.None)
      )
    }
  ]
}

const renaming = (run: Run): ReadonlyArray<Step> => {
  const closedFrom = `${run.dir}/rename-closed`
  const closedTo = `${run.dir}/renamed-closed`
  const openFrom = `${run.dir}/rename-open`
  const openTo = `${run.dir}/renamed-open`
  return [
    {
      name: `rename closed file ${closedFrom} to ${closedTo}`,
      run: Effect.gen(function*() {
        const { fs, observer } = yield* run.clients
        const data = run.bytes(100 * KiB, 6)
        yield* fs.writeFile(closedFrom, data)
        yield* fs.rename(closedFrom, closedTo)
        yield* failsWith("stat of the old name", "ENOENT", observer.stat(closedFrom))
        yield* sameBytes("the renamed file", yield* observer.readFile(closedTo), data)
      })
    },
    {
      name: `rename open file ${openFrom} with buffered data to ${openTo}: the bytes land in the renamed file`,
      run: Effect.gen(function*() {
        const { fs, observer } = yield* run.clients
        const first = run.bytes(256 * KiB, 7)
        const buffered = run.bytes(256 * KiB, 8)
        const handle = yield* fs.open(openFrom, "w")
        yield* handle.write(first)
        yield* handle.sync
        yield* handle.write(buffered)
        const before = (yield* observer.stat(openFrom)).size
        yield* check(before === first.length, `before the rename the file has ${before} bytes, expected ${first.length}`)
        yield* fs.rename(openFrom, openTo)
        // The handle holds the inode, not the name: close flushes into the renamed file.
        yield* handle.close
        const expected = new Uint8Array(first.length + buffered.length)
        expected.set(first)
        expected.set(buffered, first.length)
        yield* sameBytes("the renamed file", yield* observer.readFile(openTo), expected)
        yield* failsWith("stat of the old name", "ENOENT", observer.stat(openFrom))
      })
    }
  ]
}

const directories = (run: Run): ReadonlyArray<Step> => {
  const dir = `${run.dir}/d`
  const missing = `${run.dir}/missing-dir`
  return [
    {
      name: `mkdir ${dir}`,
      run: Effect.gen(function*() {
        const { fs, observer } = yield* run.clients
        yield* fs.mkdir(dir)
        const stats = yield* observer.stat(dir)
        yield* check(stats.isDirectory(), "the new directory does not stat as a directory")
        yield* failsWith("mkdir of an existing directory", "EEXIST", fs.mkdir(dir))
      })
    },
    {
      name: `rmdir of non-empty ${dir} fails with ENOTEMPTY`,
      run: Effect.gen(function*() {
        const { fs, observer } = yield* run.clients
        yield* fs.writeFile(`${dir}/f`, run.bytes(KiB, 9))
        yield* failsWith("rmdir", "ENOTEMPTY", fs.rmdir(dir))
        yield* check((yield* observer.stat(`${dir}/f`)).size === KiB, "the directory's file changed")
      })
    },
    {
      name: `rmdir of missing ${missing} fails with ENOENT`,
      run: Effect.flatMap(run.clients, ({ fs }) => failsWith("rmdir", "ENOENT", fs.rmdir(missing)))
    },
    {
      name: `rmdir ${dir} once empty`,
      run: Effect.gen(function*() {
        const { fs, observer } = yield* run.clients
        yield* fs.unlink(`${dir}/f`)
        yield* fs.rmdir(dir)
        yield* failsWith("stat of the removed directory", "ENOENT", observer.stat(dir))
      })
    }
  ]
}

/** More entries than one listdir page (100), so the listing spans pages. */
const LISTED_FILES = 120

const listing = (run: Run): ReadonlyArray<Step> => {
  const dir = `${run.dir}/list`
  return [{
    name: `listdir ${dir}: ${LISTED_FILES} files and a directory, across pages`,
    run: Effect.gen(function*() {
      const { fs, observer } = yield* run.clients
      yield* fs.mkdir(dir)
      const files = Array.from({ length: LISTED_FILES }, (_, i) => `f${String(i).padStart(3, "0")}`)
      yield* Effect.forEach(files, (name) => Effect.flatMap(fs.open(`${dir}/${name}`, O_CREAT | O_WRONLY), (h) => h.close), {
        concurrency: 8,
        discard: true
      })
      yield* fs.mkdir(`${dir}/sub`)
      const expected = [...files, "sub"].sort()
      const names = [...(yield* observer.readdir(dir))].sort()
      yield* check(
        names.length === expected.length && names.every((name, i) => name === expected[i]),
        `listdir returned ${names.length} names, expected ${expected.length}` +
          ` (missing: ${expected.filter((name) => !names.includes(name)).slice(0, 5).join(",") || "none"})`
      )
      const entries = yield* observer.readdir(dir, { withFileTypes: true })
      const wrongType = entries.filter((entry) => entry.isDirectory() !== (entry.name === "sub"))
      yield* check(wrongType.length === 0, `wrong type listed for ${wrongType.map((entry) => entry.name).join(",")}`)
    })
  }]
}

const stats = (run: Run): ReadonlyArray<Step> => {
  const file = `${run.dir}/stat-file`
  return [
    {
      name: `stat of file ${file}`,
      run: Effect.gen(function*() {
        const { fs, observer } = yield* run.clients
        yield* fs.writeFile(file, run.bytes(1234, 10))
        const stats = yield* observer.stat(file)
        yield* check(stats.isFile() && !stats.isDirectory(), "a file does not stat as a file")
        yield* check(stats.size === 1234, `size ${stats.size}, expected 1234`)
        // 0o666 less the default umask 0o022
        yield* check((stats.mode & 0o777) === 0o644, `mode ${(stats.mode & 0o777).toString(8)}, expected 644`)
      })
    },
    {
      name: `stat of directory ${run.dir}`,
      run: Effect.gen(function*() {
        const { observer } = yield* run.clients
        const stats = yield* observer.stat(run.dir)
        yield* check(stats.isDirectory() && !stats.isFile(), "a directory does not stat as a directory")
      })
    },
    {
      name: `stat of missing ${run.dir}/missing fails with ENOENT`,
      run: Effect.gen(function*() {
        const { observer } = yield* run.clients
        yield* failsWith("stat", "ENOENT", observer.stat(`${run.dir}/missing`))
        yield* failsWith("stat below a missing directory", "ENOENT", observer.stat(`${run.dir}/missing/below`))
      })
    }
  ]
}

const CONCURRENT_OPENS = 8

const concurrentCreate = (run: Run): ReadonlyArray<Step> => {
  const path = `${run.dir}/racy`
  return [{
    name: `${CONCURRENT_OPENS} concurrent O_CREAT opens of new ${path} succeed on one inode`,
    run: Effect.gen(function*() {
      const { fs, observer } = yield* run.clients
      // Alternate clients, so the creates race across connections too.
      const handles = yield* Effect.forEach(
        Array.from({ length: CONCURRENT_OPENS }, (_, i) => (i % 2 === 0 ? fs : observer)),
        (client) => client.open(path, O_CREAT | O_WRONLY),
        { concurrency: "unbounded" }
      )
      yield* Effect.forEach(handles, (handle) => handle.close, { discard: true })
      const inodes = new Set(handles.map((handle) => handle.inode))
      yield* check(inodes.size === 1, `the opens name ${inodes.size} different inodes: ${[...inodes].join(",")}`)
      const stats = yield* observer.stat(path)
      yield* check(inodes.has(stats.ino), `stat names inode ${stats.ino}, the handles ${[...inodes].join(",")}`)
      const listed = (yield* observer.readdir(run.dir)).filter((name) => name === "racy").length
      yield* check(listed === 1, `the name is listed ${listed} times`)
    })
  }]
}

/** Removes `path` and everything below it. */
const removeTree = (fs: SandstoreClientShape, path: string): Effect.Effect<void, ClientError> =>
  Effect.gen(function*() {
    const entries = yield* fs.readdir(path, { withFileTypes: true })
    yield* Effect.forEach(
      entries,
      (entry) => entry.isDirectory() ? removeTree(fs, `${path}/${entry.name}`) : fs.unlink(`${path}/${entry.name}`),
      { concurrency: 8, discard: true }
    )
    yield* fs.rmdir(path)
  })

const GROUPS: ReadonlyArray<(run: Run) => ReadonlyArray<Step>> = [
  createEmpty, bufferedWrites, removal, renaming, directories, listing, stats, concurrentCreate
]

/** Why a step failed: a typed failure described, a defect as its message. */
const reasonOf = (cause: Cause.Cause<StepError>): string =>
  Option.match(Cause.failureOption(cause), {
    onSome: describeError,
    onNone: () => `defect: ${Cause.pretty(cause).split("\n")[0]}`
  })

/**
 * Runs the smoke scenario against the cluster at `seeds`. Never fails: every problem, including
 * an unreachable cluster, is a failed step in the report.
 */
export const runSmoke = (options: SmokeOptions): Effect.Effect<SmokeReport, never, Communicator> =>
  Effect.scoped(Effect.gen(function*() {
    const runId = options.runId ?? (yield* hex32)
    const seed = crc32c(new TextEncoder().encode(runId))
    const dir = `/smoke-${runId}`
    const timeout = options.stepTimeout ?? "2 minutes"
    const results: Array<StepResult> = []
    let clients: Clients | undefined

    const communicator = yield* Communicator
    const withCommunicator = (scoped: Effect.Effect<SandstoreClientShape, Unavailable, Communicator | Scope.Scope>) =>
      Effect.provideService(scoped, Communicator, communicator)

    const run: Run = {
      dir,
      clients: Effect.suspend(() =>
        clients === undefined ? Effect.dieMessage("smoke: a step ran before the clients connected") : Effect.succeed(clients)
      ),
      connect: withCommunicator(connectClient(options.seeds)),
      bytes: (length, salt) => patternBytes(length, Math.imul(seed ^ salt, 0x9e3779b1))
    }

    const record = (result: StepResult) =>
      Effect.zipRight(Effect.sync(() => results.push(result)), options.onStep?.(result) ?? Effect.void)

    /**
     * Runs the steps in order until one fails; the rest are reported as not run, as are all of
     * them when `blockedBy` (a step they depend on) failed. Resolves with the failed step's name.
     */
    const runSteps = (steps: ReadonlyArray<Step>, blockedBy?: string) =>
      Effect.gen(function*() {
        let failed = blockedBy
        for (const step of steps) {
          if (failed !== undefined) {
            yield* record({ name: step.name, ok: false, reason: `not run: "${failed}" failed` })
            continue
          }
          const exit = yield* Effect.exit(step.run.pipe(
            Effect.timeoutFail({
              duration: timeout,
              onTimeout: () => new CheckFailed({ message: `no result within ${Duration.format(timeout)}` })
            })
          ))
          if (Exit.isSuccess(exit)) {
            yield* record({ name: step.name, ok: true, reason: undefined })
          } else {
            failed = step.name
            yield* record({ name: step.name, ok: false, reason: reasonOf(exit.cause) })
          }
        }
        return failed
      })

    // The clients live as long as the run; every later step needs them and the directory.
    const scope = yield* Effect.scope
    const setup: ReadonlyArray<Step> = [
      {
        name: `connect to ${options.seeds.join(",")}`,
        run: Effect.gen(function*() {
          const fs = yield* withCommunicator(connectClient(options.seeds))
          const observer = yield* withCommunicator(connectClient(options.seeds))
          clients = { fs, observer }
        }).pipe(Scope.extend(scope))
      },
      { name: `mkdir ${dir}`, run: Effect.flatMap(run.clients, ({ fs }) => fs.mkdir(dir)) }
    ]
    const setupFailed = yield* runSteps(setup)
    let allHeld = setupFailed === undefined
    for (const group of GROUPS) {
      const failed = yield* runSteps(group(run), setupFailed)
      allHeld &&= failed === undefined
    }
    if (allHeld) {
      const cleanup: Step = {
        name: `remove ${dir}`,
        run: Effect.gen(function*() {
          const { fs, observer } = yield* run.clients
          yield* removeTree(fs, dir)
          yield* failsWith("stat of the removed directory", "ENOENT", observer.stat(dir))
        })
      }
      allHeld = (yield* runSteps([cleanup])) === undefined
    }
    return { runId, directory: dir, steps: results, passed: allHeld }
  }))
