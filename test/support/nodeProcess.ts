/**
 * Real node processes for integration tests: `sandstore node` started through bin/sandstore.mjs
 * on a port chosen free at run time. Every process is killed when the test's scope closes.
 */
import { Effect, Schedule } from "effect"
import { type ChildProcess, execFile, spawn } from "node:child_process"
import { createServer, connect as netConnect } from "node:net"
import { join } from "node:path"
import { nodeLaunch } from "../../src/lib/nodeLaunch.ts"

const ROOT = join(import.meta.dirname, "..", "..")
export const BIN = join(ROOT, "bin", "sandstore.mjs")

/** A TCP port that was free a moment ago (the OS picked it). */
export const freePort = Effect.async<number>((resume) => {
  const server = createServer()
  server.listen(0, "127.0.0.1", () => {
    const address = server.address()
    const port = typeof address === "object" && address !== null ? address.port : 0
    server.close(() => resume(Effect.succeed(port)))
  })
})

/** Resolves once something accepts TCP connections on the address. */
const accepting = (host: string, port: number) =>
  Effect.async<void, Error>((resume) => {
    const socket = netConnect({ host, port })
    socket.once("connect", () => {
      socket.destroy()
      resume(Effect.void)
    })
    socket.once("error", (error) => {
      socket.destroy()
      resume(Effect.fail(error))
    })
  })

export interface NodeProcess {
  readonly address: string
  readonly process: ChildProcess
  readonly output: () => string
  /** Send a signal and wait for the process to exit. */
  readonly kill: (signal: NodeJS.Signals) => Effect.Effect<void>
}

/** Start `sandstore node` and wait until it accepts connections (or fail with its output). */
export const startNode = (options: { readonly id: string; readonly port: number; readonly dataDir: string; readonly args?: ReadonlyArray<string> }) =>
  Effect.gen(function*() {
    const address = `127.0.0.1:${options.port}`
    let output = ""
    const child = yield* Effect.acquireRelease(
      Effect.sync(() => {
        const launch = nodeLaunch(BIN, ["node", "--id", options.id, "--listen", address, "--data-dir", options.dataDir, ...(options.args ?? [])])
        const p = spawn(process.execPath, launch.args, { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, ...launch.env } })
        p.stdout.on("data", (d) => (output += d))
        p.stderr.on("data", (d) => (output += d))
        return p
      }),
      (p) => stop(p, "SIGKILL")
    )
    yield* accepting("127.0.0.1", options.port).pipe(
      Effect.retry(Schedule.spaced("100 millis").pipe(Schedule.upTo("30 seconds"))),
      Effect.catchAll(() => Effect.dieMessage(`node ${options.id} did not start:\n${output}`))
    )
    const handle: NodeProcess = { address, process: child, output: () => output, kill: (signal) => stop(child, signal) }
    return handle
  })

const stop = (child: ChildProcess, signal: NodeJS.Signals) =>
  Effect.async<void>((resume) => {
    if (child.exitCode !== null || child.signalCode !== null) return resume(Effect.void)
    child.once("exit", () => resume(Effect.void))
    child.kill(signal)
  })

export interface SandstoreRun {
  /** exit code; null when the process was ended by a signal */
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
}

/** Runs `sandstore ...args` to completion; the process is killed if the test is interrupted or `timeoutMs` passes. */
export const runSandstore = (args: ReadonlyArray<string>, timeoutMs = 120_000) =>
  Effect.async<SandstoreRun>((resume) => {
    const child = execFile(process.execPath, [BIN, ...args], { timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
      resume(Effect.succeed({ code: error === null ? 0 : typeof error.code === "number" ? error.code : null, stdout, stderr }))
    })
    return Effect.sync(() => child.kill("SIGKILL"))
  })
