/**
 * Cluster membership on etcd (the production ClusterService). The node registers its config and
 * a lease-bound liveness key (see etcdLayout.ts) and keeps a local cache of every node's keys
 * through a prefix watch.
 *
 * Startup never waits for etcd: the layer serves the configured members at once (presumed
 * alive) and two supervised fibers do the etcd work, each retried with capped backoff for as
 * long as the layer lives:
 * - registration: grant a lease, put config and liveness keys, then wait; when the lease is
 *   lost (keepalive failed long enough, or etcd said it expired) grant a new one and register again;
 * - view: range-read the prefix, then watch from the revision after the read; when the watch
 *   disconnects it resumes after the last revision it saw, when etcd cancels it (compaction)
 *   it reads again.
 * While etcd is unreachable the last known view is served. Closing the layer revokes the lease
 * (bounded, so an unreachable etcd cannot hang shutdown), so other nodes see this one go at once.
 *
 * The Raft voter set never comes from here (see ClusterService): this view feeds placement,
 * routing and operators only.
 */
import { Cause, Data, Deferred, Duration, Effect, Layer, Option, Ref, Schema, Stream, SubscriptionRef } from "effect"
import { noop } from "cockatiel"
import { Etcd3, type IKeyValue, type IWatchResponse, type Lease } from "etcd3"
import type { NodeInfo } from "../../src/domain/cluster.ts"
import { Timeout, Unavailable } from "../../src/domain/errors.ts"
import { ClusterService } from "../../src/services/ClusterService.ts"
import { etcdLayout, type Registration, RegistrationJson } from "./etcdLayout.ts"
import { type Backoff, reasonOf, retryForever } from "./etcdRetry.ts"
import { applyChange, cacheOf, emptyCache, type KeyChange, type MembershipCache, membershipView, sameView } from "./etcdView.ts"

export interface EtcdClusterOptions {
  readonly self: Registration
  /** The configured cluster (e.g. from --peers); served until etcd answers. */
  readonly members: ReadonlyArray<{ readonly id: string; readonly address: string }>
  /** etcd client endpoints, host:port. */
  readonly endpoints: ReadonlyArray<string>
  /** TTL of the liveness lease; default 5. */
  readonly leaseTtlSeconds?: number
  /** Key prefix; default "/sandstore". */
  readonly prefix?: string
  /** Delays between attempts to reach etcd; default 200 ms doubling up to 5 s. */
  readonly backoff?: Backoff
}

/** Bound on any single etcd request: a hung etcd must look like an unreachable one. */
const CALL_TIMEOUT = Duration.seconds(5)
/** Bound on revoking the lease and cancelling the watch at shutdown. */
const CLOSE_TIMEOUT = Duration.seconds(2)
const DEFAULT_BACKOFF: Backoff = { initial: Duration.millis(200), max: Duration.seconds(5) }

type EtcdFailure = Unavailable | Timeout

/** Ends a registration session: etcd is reachable but our lease is gone. Never leaves this layer. */
class LeaseLost extends Data.TaggedError("LeaseLost")<{ readonly reason: string }> {}

/** Ends a view session: etcd cancelled the watch (usually compaction), so the view is read again. */
class WatchCancelled extends Data.TaggedError("WatchCancelled")<{ readonly reason: string }> {}

const messageOf = (error: unknown) => (error instanceof Error ? error.message : String(error))

/** Parts of one watch connection, in the order etcd delivers them. */
type WatchSignal =
  | { readonly _tag: "Connected" }
  | { readonly _tag: "Response"; readonly response: IWatchResponse }
  | { readonly _tag: "Disconnected"; readonly reason: string }
  | { readonly _tag: "Cancelled"; readonly reason: string }

export const EtcdClusterService = (options: EtcdClusterOptions): Layer.Layer<ClusterService> =>
  Layer.scoped(
    ClusterService,
    Effect.gen(function*() {
      const configured = { self: options.self, members: options.members }
      const self: NodeInfo = { ...options.self, alive: true }
      const view = yield* SubscriptionRef.make(membershipView(configured, null))
      const service = ClusterService.of({ self, members: SubscriptionRef.get(view), changes: view.changes })
      if (options.endpoints.length === 0) {
        yield* Effect.logError("etcd membership configured without endpoints; serving the configured members only")
        return service
      }

      const ttl = options.leaseTtlSeconds ?? 5
      const layout = etcdLayout(options.prefix ?? "/sandstore")
      const backoff = options.backoff ?? DEFAULT_BACKOFF
      const where = options.endpoints.join(",")
      const registration = yield* Schema.encode(RegistrationJson)(options.self).pipe(Effect.orDie)

      // The client's own retries and circuit breaker are off: the loops below own retrying,
      // with their own backoff and logging, and a breaker would delay recovery after etcd returns.
      const client = yield* Effect.acquireRelease(
        Effect.sync(() => new Etcd3({ hosts: [...options.endpoints], faultHandling: { host: () => noop, global: noop } })),
        (etcd) => Effect.sync(() => etcd.close())
      )

      const call = <A>(what: string, run: () => Promise<A>): Effect.Effect<A, EtcdFailure> =>
        Effect.tryPromise({ try: run, catch: (error) => new Unavailable({ message: `${what}: ${messageOf(error)}` }) }).pipe(
          Effect.timeoutFail({
            duration: CALL_TIMEOUT,
            onTimeout: () => new Timeout({ message: `${what}: no answer within ${Duration.format(CALL_TIMEOUT)}` })
          })
        )

      const logRetry = (task: string) => (cause: Cause.Cause<EtcdFailure | LeaseLost | WatchCancelled>, delay: Duration.Duration) => {
        const failure = Option.getOrNull(Cause.failureOption(cause))
        const after = Duration.format(delay)
        switch (failure?._tag) {
          case "LeaseLost":
            return Effect.logWarning(`etcd lease of ${self.id} lost (${failure.reason}); registering again in ${after}`)
          case "WatchCancelled":
            return Effect.logWarning(`membership watch cancelled by etcd (${failure.reason}); reading the whole view again in ${after}`)
          default:
            return Effect.logWarning(
              `etcd at ${where} unreachable (${task}: ${reasonOf(cause)}); retrying in ${after}; serving with the last known membership`
            )
        }
      }

      // Registration. The newest lease is kept for the revoke at shutdown; superseded ones are
      // released (no more keepalives) and expire on their own.
      const currentLease = yield* Ref.make<Lease | null>(null)
      yield* Effect.addFinalizer(() =>
        Effect.flatMap(Ref.get(currentLease), (lease) =>
          lease === null ? Effect.void : Effect.tryPromise({ try: () => lease.revoke(), catch: messageOf }).pipe(
            Effect.timeout(CLOSE_TIMEOUT),
            Effect.tapError((reason) => Effect.logWarning(`could not revoke lease of ${self.id} at shutdown: ${reason}`)),
            Effect.ignore
          ))
      )

      const register = (established: Effect.Effect<void>) =>
        Effect.scoped(Effect.gen(function*() {
          const lost = yield* Deferred.make<never, LeaseLost>()
          const lease = yield* Effect.acquireRelease(
            Effect.sync(() =>
              client.lease(ttl).on("lost", (error) =>
                Deferred.unsafeDone(lost, new LeaseLost({ reason: error.message })))
            ),
            (lease) => Effect.sync(() => lease.release())
          )
          yield* Ref.set(currentLease, lease)
          const leaseId = yield* call("lease grant", () => lease.grant())
          yield* call("put node config", () => client.put(layout.configKey(self.id)).value(registration).exec())
          yield* call("put liveness key", () => lease.put(layout.leaseKey(self.id)).value(registration).exec())
          yield* Effect.logInfo(`registered ${self.id} in etcd at ${where} (lease ${leaseId}, ttl ${ttl}s)`)
          yield* established
          return yield* Deferred.await(lost)
        }))

      // View. Owned by the view fiber alone: the cache (null until the first read) and the
      // revision to resume watching from (null: read again first).
      let cache: MembershipCache | null = null
      let resumeFrom: bigint | null = null

      const publish = Effect.gen(function*() {
        const next = membershipView(configured, cache)
        if (!sameView(yield* SubscriptionRef.get(view), next)) yield* SubscriptionRef.set(view, next)
      })

      const load = Effect.gen(function*() {
        const response = yield* call("read membership", () => client.getAll().prefix(layout.root).exec())
        cache = cacheOf(layout, response.kvs.map((kv) => ({ key: kv.key.toString(), value: kv.value.toString() })))
        resumeFrom = BigInt(response.header.revision) + 1n
        yield* publish
      })

      const watchSignals = (startRevision: bigint) =>
        Stream.async<WatchSignal>((emit) => {
          const watcher = client.watch().prefix(layout.root).startRevision(startRevision.toString()).watcher()
          // Set once the client has dropped the watcher itself (etcd cancelled it, or it ended).
          let dropped = false
          watcher
            .on("connected", () => emit.single({ _tag: "Connected" }))
            .on("data", (response) => emit.single({ _tag: "Response", response }))
            .on("disconnected", (error) => emit.single({ _tag: "Disconnected", reason: error.message }))
            .on("end", () => {
              dropped = true
              emit.single({ _tag: "Disconnected", reason: "watch ended" })
            })
            .on("error", (error) => {
              dropped = true
              emit.single({ _tag: "Cancelled", reason: error.message })
            })
          // Cancelling also stops the client's own reconnection: resuming is ours to do.
          const cancel = Effect.suspend(() =>
            dropped ? Effect.void : Effect.tryPromise(() => watcher.cancel()).pipe(Effect.timeout(CLOSE_TIMEOUT), Effect.ignore)
          )
          return Effect.ensuring(cancel, Effect.sync(() => watcher.removeAllListeners()))
        }, "unbounded")

      const changeOf = (type: string, kv: IKeyValue): KeyChange => ({
        type: type === "Delete" ? "Delete" : "Put",
        key: kv.key.toString(),
        value: kv.value.toString()
      })

      const onResponse = (response: IWatchResponse) => {
        if (response.events.length === 0) {
          // Progress notification: every event up to this revision has been delivered.
          const next = BigInt(response.header.revision) + 1n
          if (resumeFrom === null || next > resumeFrom) resumeFrom = next
          return Effect.void
        }
        for (const event of response.events) {
          cache = applyChange(layout, cache ?? emptyCache, changeOf(event.type, event.kv))
          resumeFrom = BigInt(event.kv.mod_revision) + 1n
        }
        return publish
      }

      const watch = (established: Effect.Effect<void>) =>
        Effect.gen(function*() {
          if (resumeFrom === null) yield* load
          const from = resumeFrom ?? 1n
          return yield* watchSignals(from).pipe(
            Stream.runForEach((signal): Effect.Effect<void, Unavailable | WatchCancelled> => {
              switch (signal._tag) {
                case "Connected":
                  return established
                case "Response":
                  return onResponse(signal.response)
                case "Disconnected":
                  return Effect.fail(new Unavailable({ message: `watch disconnected (${signal.reason})` }))
                case "Cancelled":
                  // Usually the revision we resume from was compacted (etcd 3.4 gives no reason,
                  // and the client hides the compact revision): read the whole view again.
                  return Effect.sync(() => {
                    resumeFrom = null
                  }).pipe(Effect.zipRight(Effect.fail(new WatchCancelled({ reason: signal.reason }))))
              }
            }),
            Effect.zipRight(Effect.fail(new Unavailable({ message: "watch stream ended" })))
          )
        })

      yield* retryForever({ session: register, backoff, onRetry: logRetry("registration") }).pipe(Effect.forkScoped)
      yield* retryForever({ session: watch, backoff, onRetry: logRetry("watch") }).pipe(Effect.forkScoped)
      return service
    })
  )
