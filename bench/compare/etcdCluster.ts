/**
 * A throwaway 3-member etcd cluster: three `etcd` processes on loopback ports chosen free at run
 * time, each with its own data dir under one temp dir, joined by --initial-cluster. The
 * processes are killed and the directory removed when the scope closes (also on Ctrl-C).
 * Raft timers stay at etcd's defaults: this is etcd as it is normally run.
 */
import { Data, Effect, Schedule } from "effect"
import { type ChildProcess, execFile, spawn } from "node:child_process"
import { join } from "node:path"
import { freePort } from "../../test/support/nodeProcess.ts"
import { tempDir } from "../../test/support/tempDir.ts"

export const ETCD_BIN = process.env.ETCD_BIN ?? "/usr/bin/etcd"

export class EtcdFailed extends Data.TaggedError("EtcdFailed")<{ readonly message: string }> {}

export interface EtcdCluster {
  /** host:port of each member's client endpoint */
  readonly endpoints: ReadonlyArray<string>
  /** each member's process id */
  readonly pids: ReadonlyArray<number>
}

/** `3.4.23` from the output of `etcd --version`. */
export const parseEtcdVersion = (output: string): string | undefined => /etcd Version:\s*(\S+)/.exec(output)?.[1]

export const etcdVersion = Effect.async<string, EtcdFailed>((resume) => {
  execFile(ETCD_BIN, ["--version"], (error, stdout) => {
    const version = error === null ? parseEtcdVersion(stdout) : undefined
    resume(version === undefined
      ? Effect.fail(new EtcdFailed({ message: `${ETCD_BIN} --version did not say its version: ${error?.message ?? stdout}` }))
      : Effect.succeed(version))
  })
})

/** The end of a process's output, for error messages. */
const OUTPUT_KEPT = 16 * 1024

const kill = (child: ChildProcess) =>
  Effect.async<void>((resume) => {
    if (child.exitCode !== null || child.signalCode !== null) return resume(Effect.void)
    child.once("exit", () => resume(Effect.void))
    child.kill("SIGKILL")
  })

/** `count` distinct ports, each free a moment ago. */
const distinctPorts = (count: number) =>
  Effect.gen(function*() {
    const ports = new Set<number>()
    while (ports.size < count) ports.add(yield* freePort)
    return [...ports]
  })

const healthy = (clientUrl: string) =>
  Effect.tryPromise({
    try: async () => {
      const response = await fetch(`${clientUrl}/health`)
      const body = (await response.json()) as { health?: string }
      if (body.health !== "true") throw new Error(`not healthy yet: ${JSON.stringify(body)}`)
    },
    catch: (cause) => new EtcdFailed({ message: cause instanceof Error ? cause.message : String(cause) })
  })

export const startEtcdCluster = (members = 3) =>
  Effect.gen(function*() {
    const dir = yield* tempDir("sandstore-compare-etcd-")
    const ports = yield* distinctPorts(2 * members)
    const names = Array.from({ length: members }, (_, i) => `e${i + 1}`)
    const clientUrls = names.map((_, i) => `http://127.0.0.1:${ports[2 * i]}`)
    const peerUrls = names.map((_, i) => `http://127.0.0.1:${ports[2 * i + 1]}`)
    const initialCluster = names.map((name, i) => `${name}=${peerUrls[i]}`).join(",")
    const outputs = names.map(() => ({ text: "" }))

    const children = yield* Effect.forEach(names, (name, i) =>
      Effect.acquireRelease(
        Effect.sync(() => {
          const child = spawn(ETCD_BIN, [
            "--name", name,
            "--data-dir", join(dir, name),
            "--listen-client-urls", clientUrls[i]!,
            "--advertise-client-urls", clientUrls[i]!,
            "--listen-peer-urls", peerUrls[i]!,
            "--initial-advertise-peer-urls", peerUrls[i]!,
            "--initial-cluster", initialCluster,
            "--initial-cluster-token", "sandstore-compare",
            "--initial-cluster-state", "new",
            "--logger", "zap",
            "--log-level", "error"
          ], { stdio: ["ignore", "pipe", "pipe"] })
          const keep = (data: Buffer) => {
            outputs[i]!.text = (outputs[i]!.text + data.toString()).slice(-OUTPUT_KEPT)
          }
          child.stdout.on("data", keep)
          child.stderr.on("data", keep)
          return child
        }),
        kill
      ))

    // /health answers true once the member sees a leader, so all three true means a working cluster.
    yield* Effect.forEach(clientUrls, (url, i) =>
      healthy(url).pipe(
        Effect.retry(Schedule.spaced("100 millis").pipe(Schedule.upTo("30 seconds"))),
        Effect.mapError(() =>
          new EtcdFailed({ message: `etcd member ${names[i]} did not become healthy on ${url}:\n${outputs[i]!.text}` })
        )
      ), { concurrency: "unbounded", discard: true })

    const cluster: EtcdCluster = {
      endpoints: clientUrls.map((url) => url.replace("http://", "")),
      pids: children.map((child) => child.pid!)
    }
    return cluster
  })
