/**
 * `sandstore bench` end to end: every phase at two concurrency levels against an in-process
 * standalone node (ops, no errors, the CSV, the run's directory gone), the pre-flight failing
 * fast against a dead port, and the command as a real process.
 */
import { describe, expect, it } from "@effect/vitest"
import { NodeContext } from "@effect/platform-node"
import { Duration, Effect, Fiber, Layer } from "effect"
import { existsSync, readdirSync, readFileSync } from "node:fs"
import { join } from "node:path"
import { TcpCommunicator } from "../../layers/transport/tcp.ts"
import { bench, type BenchRun } from "../../src/cli/benchCommand.ts"
import { BlockPattern } from "../../src/bench/dataFiles.ts"
import { runWindow, Tally } from "../../src/bench/measure.ts"
import { makeContext, setUpWorkers } from "../../src/bench/phases.ts"
import { movesBytes, PHASE_NAMES } from "../../src/bench/phaseResult.ts"
import { CSV_HEADER } from "../../src/bench/report.ts"
import type { FileHandle } from "../../src/client/FileHandle.ts"
import type { SandstoreClientShape } from "../../src/client/SandstoreClient.ts"
import { clientOf, standaloneNode } from "../support/client-node.ts"
import { freePort, runSandstore } from "../support/nodeProcess.ts"
import { tempDir } from "../support/tempDir.ts"

const BenchEnvironment = Layer.merge(NodeContext.layer, TcpCommunicator)

const KiB = 1024

/** `client`, recording every handle it opens. */
const recordingHandles = (client: SandstoreClientShape, handles: Array<FileHandle>): SandstoreClientShape => ({
  ...client,
  open: (path, flags, mode) => Effect.tap(client.open(path, flags, mode), (handle) => handles.push(handle)),
  openScoped: (path, flags, mode) => Effect.tap(client.openScoped(path, flags, mode), (handle) => handles.push(handle))
})

/** A short run of every phase; `out` is where the CSV goes. */
const shortRun = (seeds: ReadonlyArray<string>, out: string): BenchRun => ({
  seeds,
  phases: PHASE_NAMES,
  concurrency: [1, 4],
  duration: Duration.seconds(1),
  warmup: Duration.millis(200),
  blockSize: 4 * KiB,
  // 16 blocks per file: writers move on to new files, readers reach the end and start over.
  fileSize: 64 * KiB,
  listdirEntries: 200,
  out,
  keep: false,
  progress: false
})

const sandstore = (...args: Array<string>) => runSandstore(args)

describe("sandstore bench", () => {
  it.scopedLive("runs every phase at each level without errors, writes the CSV and removes its directory", () =>
    Effect.gen(function*() {
      const address = yield* standaloneNode()
      const out = join(yield* tempDir("sandstore-bench-test-"), "results", "bench")
      const { csvPath, report } = yield* bench(shortRun([address], out)).pipe(Effect.provide(BenchEnvironment))

      expect(report.results.map((result) => `${result.operation}@${result.concurrency}`)).toEqual(
        PHASE_NAMES.flatMap((phase) => [`${phase}@1`, `${phase}@4`])
      )
      for (const result of report.results) {
        expect({ run: `${result.operation}@${result.concurrency}`, errors: result.errorCount, first: result.firstError })
          .toEqual({ run: `${result.operation}@${result.concurrency}`, errors: 0, first: undefined })
        expect(result.totalOps).toBeGreaterThan(0)
        expect(result.latency!.p50).toBeLessThanOrEqual(result.latency!.p100)
      }
      // Reads move whole blocks except the one short read per pass that finds the end of a file.
      // The files are the write phase's, each at least one block (how many depends on how fast
      // the machine wrote), so at most every other read is short: a reader that never detected
      // the end would read nothing.
      for (const read of report.results.filter((result) => result.operation === "read")) {
        const bytes = read.mibPerSec! * 1024 * 1024 * read.elapsedSeconds
        expect(bytes / read.totalOps).toBeGreaterThanOrEqual(4 * KiB / 2)
      }

      expect(csvPath.startsWith(out)).toBe(true)
      expect(readdirSync(out)).toHaveLength(1)
      const lines = readFileSync(csvPath, "utf8").trimEnd().split("\n")
      expect(lines[0]).toBe(CSV_HEADER)
      expect(lines.slice(1).map((line) => line.split(",").slice(0, 3).join(","))).toEqual(
        PHASE_NAMES.flatMap((phase) =>
          [1, 4].map((level) => `${phase},${level},${movesBytes(phase) ? 4096 : ""}`)
        )
      )

      expect(report.cleanup).toMatchObject({ _tag: "Removed" })
      const fs = yield* clientOf([address])
      expect((yield* Effect.flip(fs.stat(report.directory))).code).toBe("ENOENT")
      expect((yield* fs.readdir("/")).filter((name) => name.startsWith("bench-"))).toEqual([])
    }), 60_000)

  it.scopedLive("the pre-flight fails fast against a dead port, and nothing else runs", () =>
    Effect.gen(function*() {
      const port = yield* freePort
      const out = join(yield* tempDir("sandstore-bench-test-"), "out")
      const error = yield* bench(shortRun([`127.0.0.1:${port}`], out)).pipe(
        Effect.provide(BenchEnvironment),
        Effect.flip,
        // Well inside the pre-flight's own bound: an unreachable seed is known in a couple of seconds.
        Effect.timeoutFail({ duration: "10 seconds", onTimeout: () => "still running after 10 seconds" })
      )
      expect(error).toMatchObject({
        _tag: "PreflightFailed",
        message: expect.stringContaining(`cannot reach a working cluster at 127.0.0.1:${port}: `)
      })
      expect(existsSync(out)).toBe(false)
    }))

  it.scopedLive("every handle a phase opens is closed after its run, also when the run is interrupted", () =>
    Effect.gen(function*() {
      const address = yield* standaloneNode()
      const handles: Array<FileHandle> = []
      const clients = [
        recordingHandles(yield* clientOf([address]), handles),
        recordingHandles(yield* clientOf([address]), handles)
      ]
      yield* clients[0]!.mkdir("/bench-handles")
      const context = yield* makeContext({
        directory: "/bench-handles",
        clients,
        blockSize: 4 * KiB,
        fileSize: 16 * KiB,
        listdirEntries: 10,
        pattern: new BlockPattern(4 * KiB, 1)
      })
      const run = (phase: typeof PHASE_NAMES[number], duration: Duration.DurationInput) =>
        Effect.scoped(Effect.flatMap(setUpWorkers[phase](context, 2), (workers) => runWindow(workers, duration, new Tally())))

      for (const phase of PHASE_NAMES) yield* run(phase, "200 millis")
      const before = handles.length
      const interrupted = yield* Effect.fork(run("write", "1 minute"))
      // Interrupt once both writers hold a handle.
      yield* Effect.sleep("20 millis").pipe(Effect.repeat({ until: () => handles.length >= before + 2 }))
      yield* Fiber.interrupt(interrupted)

      // write rotates files, read holds one per worker, create opens one per operation
      expect(handles.length).toBeGreaterThan(20)
      for (const handle of handles) {
        expect({ path: handle.path, stat: (yield* Effect.flip(handle.stat)).code }).toEqual({ path: handle.path, stat: "EBADF" })
      }
    }), 60_000)

  it.scopedLive("as a process: exit 1 with the reason on a dead cluster, a CSV on a live node", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir("sandstore-bench-test-")
      const port = yield* freePort
      const dead = yield* sandstore("bench", "--seeds", `127.0.0.1:${port}`, "--out", join(dir, "dead"))
      expect(dead.code).toBe(1)
      expect(dead.stderr).toContain(`sandstore bench: cannot reach a working cluster at 127.0.0.1:${port}: `)
      expect(existsSync(join(dir, "dead"))).toBe(false)

      const address = yield* standaloneNode()
      const live = yield* sandstore(
        "bench", "--seeds", address, "--phases", "stat,create", "--concurrency", "2", "--duration", "300ms", "--warmup", "0s",
        "--out", join(dir, "live")
      )
      expect(live.stderr).toContain("pre-flight passed")
      expect(live.code).toBe(0)
      const [csv] = readdirSync(join(dir, "live"))
      expect(live.stdout).toContain(`results: ${join(dir, "live", csv!)}`)
      const lines = readFileSync(join(dir, "live", csv!), "utf8").trimEnd().split("\n")
      expect(lines).toHaveLength(3)
      expect(lines[1]).toMatch(/^stat,2,,[\d.]+,[\d.]+,[\d.]+,[\d.]+,[1-9]\d*,0,[\d.]+,$/)
      expect(lines[2]).toMatch(/^create,2,,[\d.]+,[\d.]+,[\d.]+,[\d.]+,[1-9]\d*,0,[\d.]+,$/)
    }), 60_000)
})
