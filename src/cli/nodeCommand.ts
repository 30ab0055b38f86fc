/**
 * `sandstore node`: runs one node until SIGINT/SIGTERM. The runtime interrupts the main fiber
 * on a signal, which closes the topology's scope: servers stop, loops end, files are closed.
 */
import { Command, Options } from "@effect/cli"
import { FileSystem } from "@effect/platform"
import { Duration, Effect, Layer, Option } from "effect"
import { InvalidArgument } from "../domain/errors.ts"
import { lacksAllocatorSettings } from "../lib/allocatorEnv.ts"
import { nodeHeapArgs } from "../lib/nodeHeapArgs.ts"
import { type AdmissionLimits, DEFAULT_ADMISSION_LIMITS } from "../services/Admission.ts"
import { Server } from "../services/Server.ts"

const options = {
  id: Options.text("id").pipe(Options.withDescription("node id (letters, digits, - and _)")),
  listen: Options.text("listen").pipe(Options.withDescription("host:port to serve on (port 0 picks a free one)")),
  dataDir: Options.text("data-dir").pipe(Options.withDescription("directory for the node's data")),
  topology: Options.choice("topology", ["standalone", "hyperconverged"]).pipe(
    Options.withDescription("how the node is assembled (default: hyperconverged with --peers, else standalone)"),
    Options.optional
  ),
  peers: Options.text("peers").pipe(
    Options.withDescription("every node of the cluster, this one included: id=host:port,... (the Raft voters)"),
    Options.optional
  ),
  membership: Options.choice("membership", ["static", "etcd"]).pipe(
    Options.withDescription("who is alive: the probed --peers list (default) or etcd"),
    Options.withDefault("static" as const)
  ),
  etcd: Options.text("etcd").pipe(Options.withDescription("etcd endpoints host:port,... (with --membership etcd)"), Options.optional),
  chunkSize: Options.integer("chunk-size").pipe(Options.withDescription("chunk size in bytes (default 8 MiB)"), Options.optional),
  replication: Options.integer("replication").pipe(
    Options.withDescription("copies of each chunk (hyperconverged; default 3)"),
    Options.optional
  ),
  maxRequests: Options.integer("max-requests").pipe(
    Options.withDescription(`requests the node works on at once before answering EBUSY (default ${DEFAULT_ADMISSION_LIMITS.maxRequests})`),
    Options.optional
  ),
  maxRequestBytes: Options.integer("max-request-bytes").pipe(
    Options.withDescription(`payload bytes the node holds in flight at once before answering EBUSY (default ${DEFAULT_ADMISSION_LIMITS.maxBytes})`),
    Options.optional
  ),
  snapshotThreshold: Options.integer("snapshot-threshold").pipe(
    Options.withDescription("applied log entries between compactions of the metadata log (default 10000)"),
    Options.optional
  ),
  scrubRate: Options.integer("scrub-rate").pipe(
    Options.withDescription("bytes per second the chunk scrubber reads to verify this node's replicas (hyperconverged; default 4 MiB/s)"),
    Options.optional
  ),
  scrubInterval: Options.integer("scrub-interval").pipe(
    Options.withDescription("seconds between the scrubber's passes over this node's replicas (hyperconverged; default 600)"),
    Options.optional
  ),
  rereplicateAfter: Options.integer("rereplicate-after").pipe(
    Options.withDescription("seconds a node must be down before the leader copies its chunks to the others (hyperconverged; default 600)"),
    Options.optional
  ),
  reconcileInterval: Options.integer("reconcile-interval").pipe(
    Options.withDescription("seconds between the leader's comparisons of every node's chunks with the metadata (hyperconverged; default 60)"),
    Options.optional
  ),
  snapshotCatchUpEntries: Options.integer("snapshot-catch-up-entries").pipe(
    Options.withDescription(
      "log entries kept behind the applied index at each compaction, so a briefly lagging follower catches up without a snapshot (default 5000)"
    ),
    Options.optional
  )
}

/** Logs where the node listens once it is up, and that it stopped once its scope has closed. */
const announce = (id: string) =>
  Layer.scopedDiscard(Effect.gen(function*() {
    const server = yield* Server
    yield* Effect.log(`sandstore node ${id} listening on ${server.address}`)
    if (lacksAllocatorSettings(process.env)) {
      yield* Effect.log(
        "MALLOC_MMAP_THRESHOLD_ and MALLOC_TRIM_THRESHOLD_ are not set: every chunk-sized buffer is fresh memory, " +
          "and large reads and writes run slower (docs/operations.md, \"Memory settings\")"
      )
    }
    // The heap settings this node runs without: those cluster up would have given it.
    const missing = nodeHeapArgs(process.execArgv, process.env)
    if (missing.length > 0) {
      yield* Effect.log(
        `node was started without ${missing.join(" ")}: V8 collects its heap far more often than it needs to ` +
          "(its whole heap every piece or two of a large write; its young generation every few hundred metadata " +
          "operations), costing the node a sixth to a fifth more CPU (docs/operations.md, \"Memory settings\")"
      )
    }
    yield* Effect.addFinalizer(() => Effect.log(`sandstore node ${id} stopped`))
  }))

/** `id=host:port,...` */
export const parsePeers = (text: string) =>
  Effect.forEach(text.split(",").map((p) => p.trim()).filter((p) => p !== ""), (entry) => {
    const match = /^([A-Za-z0-9_-]{1,64})=(.+:\d{1,5})$/.exec(entry)
    return match
      ? Effect.succeed({ id: match[1]!, address: match[2]! })
      : Effect.fail(new InvalidArgument({ message: `--peers entry "${entry}" is not id=host:port` }))
  })

/** Fails on the first numeric option given below its minimum. */
const atLeast = (bounds: ReadonlyArray<readonly [name: string, value: Option.Option<number>, min: number]>) =>
  Effect.forEach(bounds, ([name, value, min]) =>
    Option.isSome(value) && value.value < min
      ? Effect.fail(new InvalidArgument({ message: `--${name} must be at least ${min}, got ${value.value}` }))
      : Effect.void, { discard: true })

const list = (text: string) => text.split(",").map((s) => s.trim()).filter((s) => s !== "")

/** The node's admission limits; a connection may use at most the node's whole allowance. */
const admissionLimits = (maxRequests: number | undefined, maxBytes: number | undefined): AdmissionLimits => {
  const d = DEFAULT_ADMISSION_LIMITS
  const requests = maxRequests ?? d.maxRequests
  const bytes = maxBytes ?? d.maxBytes
  return {
    ...d,
    maxRequests: requests,
    maxBytes: bytes,
    maxRequestsPerConnection: Math.min(d.maxRequestsPerConnection, requests),
    maxBytesPerConnection: Math.min(d.maxBytesPerConnection, bytes)
  }
}

export const nodeCommand = Command.make("node", options, (o) =>
  Effect.gen(function*() {
    // Refused before anything is created: a bad setting changes nothing.
    yield* atLeast([
      ["chunk-size", o.chunkSize, 1],
      ["replication", o.replication, 1],
      ["max-requests", o.maxRequests, 1],
      ["max-request-bytes", o.maxRequestBytes, 1],
      ["snapshot-threshold", o.snapshotThreshold, 1],
      ["snapshot-catch-up-entries", o.snapshotCatchUpEntries, 0],
      ["scrub-rate", o.scrubRate, 1],
      ["scrub-interval", o.scrubInterval, 0],
      ["rereplicate-after", o.rereplicateAfter, 0],
      ["reconcile-interval", o.reconcileInterval, 1]
    ])
    const fs = yield* FileSystem.FileSystem
    yield* fs.makeDirectory(o.dataDir, { recursive: true })
    const topologyName = Option.getOrElse(o.topology, () => (Option.isSome(o.peers) ? "hyperconverged" : "standalone"))
    const chunkSize = Option.isSome(o.chunkSize) ? { chunkSize: o.chunkSize.value } : {}
    const admission = admissionLimits(Option.getOrUndefined(o.maxRequests), Option.getOrUndefined(o.maxRequestBytes))
    // Loaded here so `sandstore fs ...` starts without the node's storage stack.
    let topology
    if (topologyName === "standalone") {
      const { StandaloneTopology } = yield* Effect.promise(() => import("../../topologies/standalone.ts"))
      topology = StandaloneTopology({
        nodeId: o.id,
        listen: o.listen,
        dataDir: o.dataDir,
        ...chunkSize,
        admission,
        ...(Option.isSome(o.snapshotThreshold) ? { snapshotThreshold: o.snapshotThreshold.value } : {})
      })
    } else {
      if (Option.isNone(o.peers)) return yield* new InvalidArgument({ message: "--topology hyperconverged needs --peers" })
      const peers = yield* parsePeers(o.peers.value)
      if (!peers.some((p) => p.id === o.id)) {
        return yield* new InvalidArgument({ message: `--peers must include this node (${o.id})` })
      }
      if (o.membership === "etcd" && Option.isNone(o.etcd)) {
        return yield* new InvalidArgument({ message: "--membership etcd needs --etcd host:port,..." })
      }
      const { HyperconvergedTopology } = yield* Effect.promise(() => import("../../topologies/hyperconverged.ts"))
      topology = HyperconvergedTopology({
        nodeId: o.id,
        listen: o.listen,
        dataDir: o.dataDir,
        peers,
        admission,
        ...chunkSize,
        ...(Option.isSome(o.replication) ? { replication: o.replication.value } : {}),
        raft: {
          ...(Option.isSome(o.snapshotThreshold) ? { snapshotThreshold: o.snapshotThreshold.value } : {}),
          ...(Option.isSome(o.snapshotCatchUpEntries) ? { snapshotCatchUpEntries: o.snapshotCatchUpEntries.value } : {})
        },
        scrubber: {
          ...(Option.isSome(o.scrubRate) ? { bytesPerSecond: o.scrubRate.value } : {}),
          ...(Option.isSome(o.scrubInterval) ? { interval: Duration.seconds(o.scrubInterval.value) } : {})
        },
        ...(Option.isSome(o.rereplicateAfter) ? { rereplication: { downAfter: Duration.seconds(o.rereplicateAfter.value) } } : {}),
        ...(Option.isSome(o.reconcileInterval) ? { collector: { orphanInterval: Duration.seconds(o.reconcileInterval.value) } } : {}),
        ...(o.membership === "etcd" && Option.isSome(o.etcd) ? { etcd: list(o.etcd.value) } : {})
      })
    }
    return yield* Layer.launch(announce(o.id).pipe(Layer.provide(topology)))
  })).pipe(Command.withDescription("run a node until SIGINT/SIGTERM (standalone, or one node of a hyperconverged cluster)"))
