/**
 * The `sandstore` CLI end to end: a real node process started with `sandstore node` on a free
 * port in a temp dir, driven by `sandstore fs ...` processes.
 */
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { type ChildProcess, execFile, spawn } from "node:child_process"
import { mkdtemp, readFile, readdir, rm, writeFile } from "node:fs/promises"
import { createServer } from "node:net"
import { tmpdir } from "node:os"
import { join, resolve } from "node:path"
import { firstDifference, patternBytes } from "../support/client-node.ts"

const repo = resolve(import.meta.dirname, "../..")
const bin = join(repo, "bin/sandstore.mjs")

interface Run {
  readonly code: number
  readonly stdout: string
  readonly stderr: string
}

/** Runs `sandstore ...args`, resolving with its exit code and output (never rejecting). */
const sandstore = (...args: Array<string>) =>
  Effect.promise(() =>
    new Promise<Run>((done) => {
      execFile(process.execPath, [bin, ...args], { cwd: repo, maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === "number" ? error.code : -1
        done({ code, stdout, stderr })
      })
    })
  )

const freePort = () =>
  new Promise<number>((done, fail) => {
    const server = createServer()
    server.once("error", fail)
    server.listen(0, "127.0.0.1", () => {
      const address = server.address()
      server.close(() => (typeof address === "object" && address !== null ? done(address.port) : fail(new Error("no port"))))
    })
  })

/** Resolves once the process prints `text`; rejects if it exits first or takes too long. */
const waitForOutput = (child: ChildProcess, text: string, timeoutMs: number) =>
  new Promise<void>((done, fail) => {
    let output = ""
    const timer = setTimeout(() => fail(new Error(`node not ready after ${timeoutMs} ms:\n${output}`)), timeoutMs)
    const onData = (data: Buffer) => {
      output += data.toString()
      if (output.includes(text)) {
        clearTimeout(timer)
        done()
      }
    }
    child.stdout!.on("data", onData)
    child.stderr!.on("data", onData)
    child.once("exit", (code) => {
      clearTimeout(timer)
      fail(new Error(`node exited with ${code} before it was ready:\n${output}`))
    })
  })

const stopProcess = (child: ChildProcess) =>
  new Promise<void>((done) => {
    if (child.exitCode !== null || child.signalCode !== null) return done()
    const force = setTimeout(() => child.kill("SIGKILL"), 15_000)
    child.once("exit", () => {
      clearTimeout(force)
      done()
    })
    child.kill("SIGTERM")
  })

describe("sandstore CLI", () => {
  let dir = ""
  let node: ChildProcess | undefined
  let seeds = ""

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "sandstore-cli-test-"))
    const port = await freePort()
    seeds = `127.0.0.1:${port}`
    node = spawn(
      process.execPath,
      [bin, "node", "--id", "n1", "--listen", seeds, "--data-dir", join(dir, "data"), "--chunk-size", String(1024 * 1024)],
      { cwd: repo, stdio: ["ignore", "pipe", "pipe"] }
    )
    await waitForOutput(node, `listening on ${seeds}`, 30_000)
  })

  afterAll(async () => {
    if (node !== undefined) await stopProcess(node)
    if (dir !== "") await rm(dir, { recursive: true, force: true })
  })

  it.live("put a 5 MiB file, get it back byte-identical, ls and stat it", () =>
    Effect.gen(function*() {
      const data = patternBytes(5 * 1024 * 1024 + 321, 11)
      const local = join(dir, "upload.bin")
      const back = join(dir, "download.bin")
      yield* Effect.promise(() => writeFile(local, data))

      expect(yield* sandstore("fs", "mkdir", "-p", "/cli/files", "--seeds", seeds)).toMatchObject({ code: 0 })
      const put = yield* sandstore("fs", "put", local, "/cli/files/data.bin", "--seeds", seeds)
      expect(put).toMatchObject({ code: 0, stderr: "" })
      const get = yield* sandstore("fs", "get", "/cli/files/data.bin", back, "--seeds", seeds)
      expect(get).toMatchObject({ code: 0, stderr: "" })
      expect(firstDifference(yield* Effect.promise(() => readFile(back)), data)).toBe(-1)
      // The download went through a temp file that is gone now.
      expect((yield* Effect.promise(() => readdir(dir))).filter((name) => name.endsWith(".tmp"))).toEqual([])

      const ls = yield* sandstore("fs", "ls", "/cli/files", "--seeds", seeds)
      expect(ls).toMatchObject({ code: 0, stdout: "data.bin\n" })
      const long = yield* sandstore("fs", "ls", "-l", "/cli", "--seeds", seeds)
      expect(long.code).toBe(0)
      expect(long.stdout).toMatch(/^drwxr-xr-x .* files\n$/)

      const stat = yield* sandstore("fs", "stat", "/cli/files/data.bin", "--seeds", seeds)
      expect(stat.code).toBe(0)
      expect(stat.stdout).toContain("type: file")
      expect(stat.stdout).toContain(`size: ${data.length}`)
    }))

  it.live("a missing path fails with exit code 1 and ENOENT on stderr, leaving no partial download", () =>
    Effect.gen(function*() {
      const stat = yield* sandstore("fs", "stat", "/no/such/file", "--seeds", seeds)
      expect(stat.code).toBe(1)
      expect(stat.stderr).toMatch(/^sandstore: ENOENT: \/no\/such\/file: /)
      const target = join(dir, "never.bin")
      const get = yield* sandstore("fs", "get", "/no/such/file", target, "--seeds", seeds)
      expect(get.code).toBe(1)
      expect(get.stderr).toContain("ENOENT")
      const names = yield* Effect.promise(() => readdir(dir))
      expect(names.filter((name) => name.startsWith("never.bin"))).toEqual([])
    }))

  it.live("mv, cat, truncate, rm and rmdir", () =>
    Effect.gen(function*() {
      const local = join(dir, "note.txt")
      yield* Effect.promise(() => writeFile(local, "hello sandstore"))
      expect((yield* sandstore("fs", "mkdir", "/notes", "--seeds", seeds)).code).toBe(0)
      expect((yield* sandstore("fs", "put", local, "/notes", "--seeds", seeds)).code).toBe(0)
      expect((yield* sandstore("fs", "mv", "/notes/note.txt", "/notes/renamed.txt", "--seeds", seeds)).code).toBe(0)
      expect((yield* sandstore("fs", "truncate", "/notes/renamed.txt", "5", "--seeds", seeds)).code).toBe(0)
      expect(yield* sandstore("fs", "cat", "/notes/renamed.txt", "--seeds", seeds)).toMatchObject({ code: 0, stdout: "hello" })
      const notEmpty = yield* sandstore("fs", "rmdir", "/notes", "--seeds", seeds)
      expect([notEmpty.code, notEmpty.stderr.startsWith("sandstore: ENOTEMPTY: /notes: ")]).toEqual([1, true])
      expect((yield* sandstore("fs", "rm", "/notes/renamed.txt", "--seeds", seeds)).code).toBe(0)
      expect((yield* sandstore("fs", "rmdir", "/notes", "--seeds", seeds)).code).toBe(0)
      expect((yield* sandstore("fs", "ls", "/", "--seeds", seeds)).stdout).toBe("cli\n")
    }))

  it.live("bad arguments exit with status 2; an unreachable cluster with 1", () =>
    Effect.gen(function*() {
      expect((yield* sandstore("fs", "stat", "--seeds", seeds)).code).toBe(2)
      const unreachable = yield* sandstore("fs", "ls", "/", "--seeds", "127.0.0.1:1")
      expect(unreachable.code).toBe(1)
      expect(unreachable.stderr).toMatch(/^sandstore: EAGAIN: /)
    }))

  it.live("a node refuses a setting out of range before it creates anything", () =>
    Effect.gen(function*() {
      const dataDir = join(dir, "refused")
      for (const [option, value] of [["--snapshot-threshold", "0"], ["--snapshot-catch-up-entries", "-1"], ["--chunk-size", "0"], ["--replication", "0"], ["--max-requests", "0"]]) {
        const run = yield* sandstore("node", "--id", "n1", "--listen", "127.0.0.1:0", "--data-dir", dataDir, option!, value!)
        expect(run.code).toBe(1)
        expect(run.stderr).toContain(`${option} must be at least`)
      }
      expect(yield* Effect.promise(() => readdir(dir))).not.toContain("refused")
    }))
})
