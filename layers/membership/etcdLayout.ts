/**
 * Where membership lives in etcd (REFERENCE.md "etcd layout"): a node's config under
 * `<prefix>/config/nodes/<id>` (kept), its liveness under `<prefix>/leases/<id>` (attached to the
 * node's lease, so it vanishes when the lease ends). Both hold the same JSON registration.
 */
import { Schema } from "effect"
import { NodeId } from "../../src/domain/cluster.ts"

/** What a node writes about itself. */
export const Registration = Schema.Struct({ id: NodeId, address: Schema.String, role: Schema.String })
export type Registration = typeof Registration.Type

/** A registration as stored in an etcd value. */
export const RegistrationJson = Schema.parseJson(Registration)

export type MembershipKey =
  | { readonly kind: "config"; readonly id: string }
  | { readonly kind: "lease"; readonly id: string }

export interface EtcdLayout {
  /** Everything membership writes lives under this prefix (ends with "/"): read and watched as one range. */
  readonly root: string
  readonly configKey: (id: string) => string
  readonly leaseKey: (id: string) => string
  /** Which membership key this is, or null for any other key under the root. */
  readonly parse: (key: string) => MembershipKey | null
}

export const etcdLayout = (prefix: string): EtcdLayout => {
  const root = `${prefix.replace(/\/+$/, "")}/`
  const configDir = `${root}config/nodes/`
  const leaseDir = `${root}leases/`
  const idAfter = (key: string, dir: string) => {
    if (!key.startsWith(dir)) return null
    const id = key.slice(dir.length)
    return Schema.is(NodeId)(id) ? id : null
  }
  return {
    root,
    configKey: (id) => `${configDir}${id}`,
    leaseKey: (id) => `${leaseDir}${id}`,
    parse: (key) => {
      const configId = idAfter(key, configDir)
      if (configId !== null) return { kind: "config", id: configId }
      const leaseId = idAfter(key, leaseDir)
      if (leaseId !== null) return { kind: "lease", id: leaseId }
      return null
    }
  }
}
