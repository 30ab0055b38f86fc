/**
 * A throwaway single-member etcd for integration tests: client and peer ports chosen free at run
 * time on 127.0.0.1, a temp data dir, and the process killed and the dir removed when the scope
 * closes. `stop` and `start` kill and restart it on the same ports and data dir, to test what
 * clients do while etcd is away; `etcdProxy` cuts one client off while etcd stays up for others.
 */
import { Effect, Schedule } from "effect"
import { type ChildProcess, spawn } from "node:child_process"
import { existsSync } from "node:fs"
import { createServer, connect as netConnect, type Server, type Socket } from "node:net"
import { join } from "node:path"
import { freePort } from "./nodeProcess.ts"
import { tempDir } from "./tempDir.ts"

export const ETCD_BIN = process.env.ETCD_BIN ?? "/usr/bin/etcd"

/** Whether the etcd binary is installed (tests that need it skip otherwise). */
export const etcdAvailable = existsSync(ETCD_BIN)

export interface EtcdServer {
  /** host:port of the client endpoint. */
  readonly endpoint: string
  /** Start the process (again) and wait until it answers /health. */
  readonly start: Effect.Effect<void>
  /** SIGKILL the process and wait for it to exit; no-op if it is not running. */
  readonly stop: Effect.Effect<void>
  readonly output: () => string
}

const exited = (child: ChildProcess) => child.exitCode !== null || child.signalCode !== null

const kill = (child: ChildProcess) =>
  Effect.async<void>((resume) => {
    if (exited(child)) return resume(Effect.void)
    child.once("exit", () => resume(Effect.void))
    child.kill("SIGKILL")
  })

/** The server, started unless `started: false` (then call `start` when the test wants it up). */
export const etcdServer = (options: { readonly started?: boolean } = {}) =>
  Effect.gen(function*() {
    const dataDir = join(yield* tempDir("sandstore-etcd-"), "data")
    const clientPort = yield* freePort
    let peerPort = yield* freePort
    while (peerPort === clientPort) peerPort = yield* freePort
    const clientUrl = `http://127.0.0.1:${clientPort}`
    const peerUrl = `http://127.0.0.1:${peerPort}`
    let child: ChildProcess | null = null
    let output = ""

    const stop = Effect.suspend(() => (child === null ? Effect.void : kill(child)))
    yield* Effect.addFinalizer(() => stop)

    const healthy = Effect.tryPromise(async () => {
      const response = await fetch(`${clientUrl}/health`)
      const body = (await response.json()) as { health?: string }
      if (body.health !== "true") throw new Error(`etcd not healthy yet: ${JSON.stringify(body)}`)
    })

    const start = Effect.gen(function*() {
      yield* stop
      const spawned = spawn(ETCD_BIN, [
        "--name", "test",
        "--data-dir", dataDir,
        "--listen-client-urls", clientUrl,
        "--advertise-client-urls", clientUrl,
        "--listen-peer-urls", peerUrl,
        "--initial-advertise-peer-urls", peerUrl,
        "--initial-cluster", `test=${peerUrl}`,
        "--initial-cluster-state", "new",
        // A single member elects itself sooner with short Raft timers.
        "--heartbeat-interval", "20",
        "--election-timeout", "200",
        "--logger", "zap",
        "--log-level", "error"
      ], { stdio: ["ignore", "pipe", "pipe"] })
      spawned.stdout?.on("data", (d) => (output += d))
      spawned.stderr?.on("data", (d) => (output += d))
      child = spawned
      yield* healthy.pipe(
        Effect.retry(Schedule.spaced("50 millis").pipe(Schedule.upTo("20 seconds"))),
        Effect.catchAll(() => Effect.dieMessage(`etcd did not become healthy on ${clientUrl}:\n${output}`))
      )
    })

    if (options.started !== false) yield* start
    const server: EtcdServer = { endpoint: `127.0.0.1:${clientPort}`, start, stop, output: () => output }
    return server
  })

/** Run `f` against a fresh etcd that is removed afterwards. */
export const withEtcd = <A, E, R>(f: (server: EtcdServer) => Effect.Effect<A, E, R>) =>
  Effect.scoped(Effect.flatMap(etcdServer(), f))

export interface EtcdProxy {
  /** host:port that forwards to the server while connected. */
  readonly endpoint: string
  /** Drop every forwarded connection and refuse new ones (etcd stays up for everyone else). */
  readonly cut: Effect.Effect<void>
  /** Accept and forward again, on the same port. */
  readonly restore: Effect.Effect<void>
}

/** A TCP forwarder to `server`, on a port chosen free at run time; closed with the scope. */
export const etcdProxy = (server: EtcdServer) =>
  Effect.gen(function*() {
    const [targetHost, targetPort] = server.endpoint.split(":")
    const port = yield* freePort
    const sockets = new Set<Socket>()
    let listener: Server | null = null

    const track = (socket: Socket) => {
      sockets.add(socket)
      socket.on("close", () => sockets.delete(socket))
      socket.on("error", () => socket.destroy())
    }
    const listen = Effect.async<void>((resume) => {
      const proxy = createServer((inbound) => {
        const outbound = netConnect({ host: targetHost, port: Number(targetPort) })
        track(inbound)
        track(outbound)
        inbound.pipe(outbound).pipe(inbound)
        inbound.on("close", () => outbound.destroy())
        outbound.on("close", () => inbound.destroy())
      })
      listener = proxy
      proxy.listen(port, "127.0.0.1", () => resume(Effect.void))
    })
    const cut = Effect.async<void>((resume) => {
      const proxy = listener
      listener = null
      if (proxy !== null) proxy.close(() => resume(Effect.void))
      for (const socket of sockets) socket.destroy()
      if (proxy === null) resume(Effect.void)
    })

    yield* Effect.acquireRelease(listen, () => cut)
    const proxy: EtcdProxy = { endpoint: `127.0.0.1:${port}`, cut, restore: Effect.suspend(() => (listener === null ? listen : Effect.void)) }
    return proxy
  })
