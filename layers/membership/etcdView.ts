/**
 * The local cache of etcd's membership keys and the view computed from it. Pure: the etcd layer
 * feeds it the range read and the watch events, and publishes the view when it changes.
 *
 * A member is alive iff its lease key is present. Nodes registered in etcd but not configured
 * also appear (role from their registration), so placement and routing can see them; the Raft
 * voter set never comes from this view.
 */
import { Either, Schema } from "effect"
import type { NodeInfo } from "../../src/domain/cluster.ts"
import { type EtcdLayout, type Registration, RegistrationJson } from "./etcdLayout.ts"

/** Registrations found in etcd. A lease entry of `null` is present but did not decode: still alive. */
export interface MembershipCache {
  readonly configs: ReadonlyMap<string, Registration>
  readonly leases: ReadonlyMap<string, Registration | null>
}

export interface KeyChange {
  readonly type: "Put" | "Delete"
  readonly key: string
  readonly value: string
}

export interface ConfiguredCluster {
  readonly self: Registration
  readonly members: ReadonlyArray<{ readonly id: string; readonly address: string }>
}

const decodeRegistration = (id: string, value: string): Registration | null => {
  const decoded = Schema.decodeUnknownEither(RegistrationJson)(value)
  return Either.isRight(decoded) && decoded.right.id === id ? decoded.right : null
}

export const emptyCache: MembershipCache = { configs: new Map(), leases: new Map() }

/** Apply one put or delete; keys outside the layout leave the cache as it was. */
export const applyChange = (layout: EtcdLayout, cache: MembershipCache, change: KeyChange): MembershipCache => {
  const parsed = layout.parse(change.key)
  if (parsed === null) return cache
  if (parsed.kind === "config") {
    const configs = new Map(cache.configs)
    const registration = change.type === "Put" ? decodeRegistration(parsed.id, change.value) : null
    if (registration === null) configs.delete(parsed.id)
    else configs.set(parsed.id, registration)
    return { configs, leases: cache.leases }
  }
  const leases = new Map(cache.leases)
  if (change.type === "Put") leases.set(parsed.id, decodeRegistration(parsed.id, change.value))
  else leases.delete(parsed.id)
  return { configs: cache.configs, leases }
}

/** The cache after a range read: every key is a put. */
export const cacheOf = (layout: EtcdLayout, keys: ReadonlyArray<{ readonly key: string; readonly value: string }>) =>
  keys.reduce((cache, kv) => applyChange(layout, cache, { type: "Put", ...kv }), emptyCache)

/**
 * The membership view, sorted by id. Before etcd has been read (`cache` null) it is the configured
 * cluster, all presumed alive. Self keeps its configured address and role; for others the live
 * registration wins over the stored config, which wins over the configured address.
 */
export const membershipView = (configured: ConfiguredCluster, cache: MembershipCache | null): ReadonlyArray<NodeInfo> => {
  const defaults = new Map<string, Registration>()
  for (const m of configured.members) defaults.set(m.id, { id: m.id, address: m.address, role: configured.self.role })
  defaults.set(configured.self.id, configured.self)
  if (cache === null) {
    return [...defaults.values()].map((r) => ({ ...r, alive: true })).sort(byId)
  }
  const ids = new Set([...defaults.keys(), ...cache.configs.keys(), ...cache.leases.keys()])
  return [...ids].flatMap((id): Array<NodeInfo> => {
    const registration = id === configured.self.id
      ? configured.self
      : cache.leases.get(id) ?? cache.configs.get(id) ?? defaults.get(id)
    // An unconfigured node whose values did not decode has no address to offer: leave it out.
    if (registration === undefined) return []
    return [{ id, address: registration.address, role: registration.role, alive: cache.leases.has(id) }]
  }).sort(byId)
}

const byId = (a: { readonly id: string }, b: { readonly id: string }) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)

export const sameView = (a: ReadonlyArray<NodeInfo>, b: ReadonlyArray<NodeInfo>) =>
  a.length === b.length &&
  a.every((m, i) => m.id === b[i].id && m.address === b[i].address && m.role === b[i].role && m.alive === b[i].alive)
