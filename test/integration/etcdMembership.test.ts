/**
 * etcd membership against a real etcd (skipped when the binary is absent): registration,
 * liveness, revocation on close, re-registration after the lease was lost, startup while etcd is
 * down, and the watch resuming after etcd restarts. The pure view and key layout are checked
 * first, without etcd.
 */
import { describe, expect, it } from "@effect/vitest"
import { Context, Effect, Exit, FiberRef, HashSet, Layer, Logger, Schedule, Scope, Stream } from "effect"
import { Etcd3 } from "etcd3"
import { EtcdClusterService, type EtcdClusterOptions } from "../../layers/membership/etcd.ts"
import { etcdLayout } from "../../layers/membership/etcdLayout.ts"
import { applyChange, cacheOf, membershipView } from "../../layers/membership/etcdView.ts"
import type { NodeInfo } from "../../src/domain/cluster.ts"
import { ClusterService, type ClusterServiceShape } from "../../src/services/ClusterService.ts"
import { etcdAvailable, etcdProxy, etcdServer, type EtcdServer } from "../support/etcd.ts"

const layout = etcdLayout("/sandstore")
const json = (id: string, address: string, role = "hyperconverged") => JSON.stringify({ id, address, role })
const configured = {
  self: { id: "a", address: "127.0.0.1:9001", role: "hyperconverged" },
  members: [{ id: "a", address: "127.0.0.1:9001" }, { id: "b", address: "127.0.0.1:9002" }]
}

describe("etcd membership view (pure)", () => {
  it("serves the configured members, all alive, before etcd has been read", () => {
    expect(membershipView(configured, null)).toEqual([
      { id: "a", address: "127.0.0.1:9001", role: "hyperconverged", alive: true },
      { id: "b", address: "127.0.0.1:9002", role: "hyperconverged", alive: true }
    ])
  })

  it("marks alive exactly the nodes whose lease key is present, and shows registered unconfigured nodes", () => {
    const cache = cacheOf(layout, [
      { key: layout.configKey("b"), value: json("b", "10.0.0.2:9002") },
      { key: layout.configKey("c"), value: json("c", "10.0.0.3:7000", "chunk") },
      { key: layout.leaseKey("c"), value: json("c", "10.0.0.3:7000", "chunk") },
      { key: "/sandstore/other", value: "ignored" }
    ])
    expect(membershipView(configured, cache)).toEqual([
      { id: "a", address: "127.0.0.1:9001", role: "hyperconverged", alive: false },
      { id: "b", address: "10.0.0.2:9002", role: "hyperconverged", alive: false },
      { id: "c", address: "10.0.0.3:7000", role: "chunk", alive: true }
    ])
    const bUp = applyChange(layout, cache, { type: "Put", key: layout.leaseKey("b"), value: json("b", "10.0.0.2:9002") })
    const cDown = applyChange(layout, bUp, { type: "Delete", key: layout.leaseKey("c"), value: "" })
    expect(membershipView(configured, cDown).map((m) => [m.id, m.alive])).toEqual([["a", false], ["b", true], ["c", false]])
  })

  it("keeps a node with an undecodable lease value alive, and ignores keys that are not node ids", () => {
    const cache = cacheOf(layout, [
      { key: layout.leaseKey("b"), value: "{not json" },
      { key: layout.configKey("x"), value: json("someone-else", "1.2.3.4:1") },
      { key: "/sandstore/leases/../../etc", value: json("a", "1.2.3.4:1") }
    ])
    expect(membershipView(configured, cache)).toEqual([
      { id: "a", address: "127.0.0.1:9001", role: "hyperconverged", alive: false },
      { id: "b", address: "127.0.0.1:9002", role: "hyperconverged", alive: true }
    ])
    expect(layout.parse("/sandstore/leases/a/b")).toBeNull()
  })
})

if (!etcdAvailable) console.log("SKIPPED: etcd not installed (etcd membership integration tests)")

// Small timings keep the whole file well under a minute of wall time.
const fastBackoff = { initial: "100 millis", max: "1 second" } as const

const peers = (...ids: ReadonlyArray<string>) => ids.map((id, i) => ({ id, address: `127.0.0.1:${9101 + i}` }))

/**
 * A node's membership layer built in its own scope, so a test can close one node. Its log lines
 * are kept in `logs` rather than printed (etcd going away on purpose makes many warnings).
 */
const startNode = (server: EtcdServer, options: Partial<EtcdClusterOptions> & { readonly id: string }) =>
  Effect.gen(function*() {
    const scope = yield* Effect.acquireRelease(Scope.make(), (scope) => Scope.close(scope, Exit.void))
    const members = options.members ?? peers("a", "b")
    const logs: Array<string> = []
    const capture = Logger.make(({ message }) => {
      logs.push(Array.isArray(message) ? message.join(" ") : String(message))
    })
    const context = yield* Layer.buildWithScope(
      EtcdClusterService({
        self: { id: options.id, address: members.find((m) => m.id === options.id)?.address ?? "127.0.0.1:9199", role: "hyperconverged" },
        members,
        endpoints: [server.endpoint],
        backoff: fastBackoff,
        ...options
      }),
      scope
    ).pipe(Effect.locally(FiberRef.currentLoggers, HashSet.make(capture)))
    return { cluster: Context.get(context, ClusterService), close: Scope.close(scope, Exit.void), logs }
  })

const alive = (view: ReadonlyArray<NodeInfo>, id: string) => view.some((m) => m.id === id && m.alive)

/** Wait until the node's view satisfies `ok`; on timeout fail with the last view seen. */
const eventually = (cluster: ClusterServiceShape, what: string, ok: (view: ReadonlyArray<NodeInfo>) => boolean) =>
  cluster.changes.pipe(
    Stream.filter(ok),
    Stream.runHead,
    Effect.timeout("10 seconds"),
    Effect.catchAll(() =>
      Effect.flatMap(cluster.members, (view) => Effect.dieMessage(`timed out waiting until ${what}; view: ${JSON.stringify(view)}`))
    )
  )

/** Read a key with a fresh client (a long-lived one would carry its own backoff across etcd restarts). */
const readKey = (server: EtcdServer, key: string) =>
  Effect.acquireUseRelease(
    Effect.sync(() => new Etcd3({ hosts: server.endpoint })),
    (client) => Effect.tryPromise(() => client.get(key).exec()).pipe(Effect.map((response) => response.kvs[0] ?? null)),
    (client) => Effect.sync(() => client.close())
  )

const leaseOfKey = (server: EtcdServer, key: string) =>
  Effect.map(readKey(server, key), (kv) => (kv === null || kv.lease === "0" ? null : kv.lease))

/** Compact etcd's history up to now: a watch resuming from an older revision is then cancelled. */
const compactHistory = (server: EtcdServer) =>
  Effect.acquireUseRelease(
    Effect.sync(() => new Etcd3({ hosts: server.endpoint })),
    (client) =>
      Effect.tryPromise(async () => {
        const marker = await client.put("/compaction-marker").value("x").exec()
        await client.kv.compact({ revision: marker.header.revision, physical: true })
      }),
    (client) => Effect.sync(() => client.close())
  )

/** Poll `read` until `ok` holds for its value and return that value; die after 10 s. */
const pollUntil = <A, E>(what: string, read: Effect.Effect<A, E>, ok: (value: A) => boolean) =>
  read.pipe(
    Effect.flatMap((value) => (ok(value) ? Effect.succeed(value) : Effect.fail(value))),
    Effect.retry(Schedule.spaced("50 millis")),
    Effect.timeout("10 seconds"),
    Effect.catchAll(() => Effect.dieMessage(`timed out waiting until ${what}`))
  )

/** Wait until the node's liveness key is in etcd (the view alone cannot tell: it starts all alive); its lease id. */
const registered = (server: EtcdServer, id: string) =>
  pollUntil(`${id} is registered`, leaseOfKey(server, layout.leaseKey(id)), (lease) => lease !== null)

describe.skipIf(!etcdAvailable)("etcd membership (real etcd)", () => {
  it.scopedLive("two nodes register and each sees the other alive; a registered unconfigured node appears with its role", () =>
    Effect.gen(function*() {
      const server = yield* etcdServer()
      const prefix = "/custom"
      const a = yield* startNode(server, { id: "a", prefix })
      const b = yield* startNode(server, { id: "b", prefix })
      yield* startNode(server, { id: "chunk-1", prefix, members: [], self: { id: "chunk-1", address: "127.0.0.1:9300", role: "chunk" } })

      yield* eventually(a.cluster, "a sees b and chunk-1 alive", (v) => alive(v, "a") && alive(v, "b") && alive(v, "chunk-1"))
      yield* eventually(b.cluster, "b sees a alive", (v) => alive(v, "a") && alive(v, "b"))
      const view = yield* a.cluster.members
      expect(view).toContainEqual({ id: "chunk-1", address: "127.0.0.1:9300", role: "chunk", alive: true })
      expect(view).toContainEqual({ id: "b", address: "127.0.0.1:9102", role: "hyperconverged", alive: true })
      expect(a.cluster.self).toEqual({ id: "a", address: "127.0.0.1:9101", role: "hyperconverged", alive: true })

      const config = yield* readKey(server, "/custom/config/nodes/a")
      expect(JSON.parse(config?.value.toString() ?? "null")).toEqual({ id: "a", address: "127.0.0.1:9101", role: "hyperconverged" })
      expect(config?.lease).toBe("0")
      expect(yield* leaseOfKey(server, "/custom/leases/a")).not.toBeNull()
    }))

  it.scopedLive("a node whose layer closes shows as not alive to the other at once (its lease is revoked)", () =>
    Effect.gen(function*() {
      const server = yield* etcdServer()
      // A 30 s TTL: only the revoke at close can take b out within the 10 s wait.
      const a = yield* startNode(server, { id: "a", leaseTtlSeconds: 30 })
      const b = yield* startNode(server, { id: "b", leaseTtlSeconds: 30 })
      yield* registered(server, "b")
      yield* eventually(a.cluster, "a sees b alive", (v) => alive(v, "b"))

      yield* b.close
      yield* eventually(a.cluster, "a sees b down", (v) => !alive(v, "b") && alive(v, "a"))
      expect(yield* readKey(server, layout.leaseKey("b"))).toBeNull()
      expect(yield* readKey(server, layout.configKey("b"))).not.toBeNull()
    }))

  it.scopedLive("after etcd was down longer than the lease, the node registers again with a new lease and stays alive", () =>
    Effect.gen(function*() {
      const server = yield* etcdServer()
      const a = yield* startNode(server, { id: "a", leaseTtlSeconds: 2 })
      const b = yield* startNode(server, { id: "b", leaseTtlSeconds: 2 })
      const before = yield* registered(server, "a")
      yield* registered(server, "b")

      yield* server.stop
      // Longer than twice the TTL: the client gives the lease up as lost.
      yield* Effect.sleep("5 seconds")
      yield* server.start

      yield* pollUntil("a registered with a new lease", leaseOfKey(server, layout.leaseKey("a")), (lease) => lease !== null && lease !== before)
      // Past the TTL the old lease has expired; the key, now on the new lease, must remain.
      yield* Effect.sleep("3 seconds")
      const after = yield* leaseOfKey(server, layout.leaseKey("a"))
      expect(after).not.toBeNull()
      expect(after).not.toBe(before)
      expect(a.logs.some((line) => line.includes("etcd lease of a lost"))).toBe(true)
      yield* eventually(b.cluster, "b sees a alive after etcd came back", (v) => alive(v, "a") && alive(v, "b"))
      yield* eventually(a.cluster, "a sees itself and b alive", (v) => alive(v, "a") && alive(v, "b"))
    }))

  it.scopedLive("a node started while etcd is down serves the configured members at once and registers once etcd starts", () =>
    Effect.gen(function*() {
      const server = yield* etcdServer({ started: false })
      const a = yield* startNode(server, { id: "a" })
      expect(yield* a.cluster.members).toEqual([
        { id: "a", address: "127.0.0.1:9101", role: "hyperconverged", alive: true },
        { id: "b", address: "127.0.0.1:9102", role: "hyperconverged", alive: true }
      ])
      yield* pollUntil(
        "a warning says etcd is unreachable",
        Effect.sync(() => a.logs.some((line) => line.includes(`etcd at ${server.endpoint} unreachable`) && line.includes("serving with the last known membership"))),
        (seen) => seen
      )

      yield* server.start
      // b never registered: once etcd answers, only a is alive.
      yield* eventually(a.cluster, "a registered and b known down", (v) => alive(v, "a") && v.some((m) => m.id === "b" && !m.alive))
      expect(yield* leaseOfKey(server, layout.leaseKey("a"))).not.toBeNull()
    }))

  it.scopedLive("a node cut off from etcd while others change and history is compacted reads the view again on return", () =>
    Effect.gen(function*() {
      const server = yield* etcdServer()
      const proxy = yield* etcdProxy(server)
      const a = yield* startNode(server, { id: "a", endpoints: [proxy.endpoint], leaseTtlSeconds: 10 })
      const x = yield* startNode(server, { id: "x", members: [] })
      yield* eventually(a.cluster, "a sees x alive", (v) => alive(v, "x"))

      yield* proxy.cut
      yield* x.close
      yield* startNode(server, { id: "y", members: [] })
      yield* registered(server, "y")
      yield* compactHistory(server)
      yield* proxy.restore

      yield* eventually(a.cluster, "a sees x gone and y alive", (v) => !alive(v, "x") && alive(v, "y") && alive(v, "a"))
      // The way back went through etcd cancelling the stale watch, not through a lucky resume.
      expect(a.logs.some((line) => line.includes("watch cancelled by etcd"))).toBe(true)
    }))

  it.scopedLive("the watch resumes after etcd restarts, and closing a node never hangs while etcd is down", () =>
    Effect.gen(function*() {
      const server = yield* etcdServer()
      const a = yield* startNode(server, { id: "a" })
      yield* startNode(server, { id: "b" })
      // An unconfigured node: seeing it proves a's view comes from etcd before the restart.
      yield* startNode(server, { id: "probe", members: [] })
      yield* eventually(a.cluster, "a sees probe alive", (v) => alive(v, "probe"))

      yield* server.stop
      yield* server.start
      // Registered only after the restart: a sees it only if its watch came back.
      const c = yield* startNode(server, { id: "c", members: peers("a", "b", "c") })
      yield* eventually(a.cluster, "a sees c, registered after the restart", (v) => alive(v, "c"))

      yield* server.stop
      yield* c.close.pipe(Effect.timeout("10 seconds"), Effect.orDie)
    }))
})
