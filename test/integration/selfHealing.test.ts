/**
 * Self-healing with real processes: a replica damaged on disk (bytes flipped in its chunk file)
 * never reaches a reader, and is repaired from a good replica, whether a read stumbles on it or
 * the scrubber finds it; each repair is logged by the node that made it. A node killed for good
 * has its chunks copied to the others until each is back to 3 copies; when it returns, its
 * copies are surplus and deleted.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { CHUNK_HEADER_SIZE, encodeChunkFile } from "../../layers/chunks/chunkFile.ts"
import { expectBytes, patternBytes } from "../support/bytes.ts"
import { startCluster, type TestCluster } from "../support/cluster.ts"
import { clientThrough, eventually, leaderOf } from "../support/durability.ts"

const CHUNK = 64 * 1024

/** Node `id`'s committed file of chunk `index` of the only file written (version ids start with inode-index-). */
const committedChunkFile = (cluster: TestCluster, id: string, index: number) =>
  eventually(`node ${id} holds chunk ${index} committed`, Effect.suspend(() => {
    const dir = join(cluster.dataDir(id), "chunks", "committed")
    const name = existsSync(dir) ? readdirSync(dir).find((n) => new RegExp(`^\\d+-${index}-`).test(n)) : undefined
    return name === undefined ? Effect.fail(new Error(`no chunk ${index} in ${dir}`)) : Effect.succeed(join(dir, name))
  }))

/** Flip one byte of a chunk file's data (a whole version of one block: header, one checksum, data). */
const damage = (file: string) => {
  const bytes = readFileSync(file)
  bytes[CHUNK_HEADER_SIZE + 4 + 100]! ^= 0x20
  writeFileSync(file, bytes)
}

const repairedOnDisk = (file: string, chunk: Uint8Array) =>
  eventually(`${file} holds the good bytes again`, Effect.suspend(() =>
    Buffer.compare(readFileSync(file), encodeChunkFile(chunk)) === 0 ? Effect.void : Effect.fail(new Error("still damaged"))))

describe("self-healing (real node processes)", () => {
  it.scopedLive("a read that meets a damaged replica returns the right bytes, and the replica is repaired and the repair logged", () =>
    Effect.gen(function*() {
      const cluster = yield* startCluster({ chunkSize: CHUNK })
      const leader = yield* leaderOf(cluster)
      const client = yield* clientThrough(cluster.addresses)
      const data = patternBytes(2 * CHUNK + 500, 17)
      yield* client.writeFile("/f", data)
      // The node serving the read reads its own replica first: damage the leader's.
      const file = yield* committedChunkFile(cluster, leader, 1)
      damage(file)
      expectBytes(yield* client.readFile("/f"), data)
      yield* repairedOnDisk(file, data.subarray(CHUNK, 2 * CHUNK))
      expect(cluster.node(leader).output()).toMatch(/chunk version \d+-1-\S+ on node n\d was damaged; repaired from node n\d/)
      expectBytes(yield* client.readFile("/f"), data)
    }), { timeout: 60_000 })

  it.scopedLive("the scrubber finds a damaged replica nobody reads and repairs it from another", () =>
    Effect.gen(function*() {
      const cluster = yield* startCluster({ chunkSize: CHUNK, args: ["--scrub-interval", "1", "--scrub-rate", String(64 * 1024 * 1024)] })
      const leader = yield* leaderOf(cluster)
      const follower = cluster.ids.find((id) => id !== leader)!
      const client = yield* clientThrough(cluster.addresses)
      const data = patternBytes(CHUNK + 10, 23)
      yield* client.writeFile("/g", data)
      const file = yield* committedChunkFile(cluster, follower, 0)
      damage(file)
      yield* repairedOnDisk(file, data.subarray(0, CHUNK))
      const output = cluster.node(follower).output()
      expect(output).toMatch(/scrubber: chunk version \d+-0-\S+ on this node is damaged/)
      expect(output).toMatch(/on node n\d was damaged; repaired from node n\d/)
      expectBytes(yield* client.readFile("/g"), data)
    }), { timeout: 60_000 })

  it.scopedLive("a node gone for good: every chunk is back to 3 copies on the others, every file reads back, and its copies go when it returns", () =>
    Effect.gen(function*() {
      const cluster = yield* startCluster({
        nodes: 4,
        chunkSize: CHUNK,
        args: ["--replication", "3", "--rereplicate-after", "2", "--reconcile-interval", "2"]
      })
      const leader = yield* leaderOf(cluster)
      const client = yield* clientThrough(cluster.addresses)
      const files = Array.from({ length: 6 }, (_, i) => ({ path: `/r${i}`, data: patternBytes(2 * CHUNK + 1000 * i, 40 + i) }))
      for (const file of files) yield* client.writeFile(file.path, file.data)
      const victim = cluster.ids.find((id) => id !== leader)!
      const committedOn = (id: string) => {
        const dir = join(cluster.dataDir(id), "chunks", "committed")
        return existsSync(dir) ? readdirSync(dir).map((name) => name.replace(/\.patch$/, "")) : []
      }
      // Every chunk committed on 3 nodes (commit notices go out after the acknowledgment).
      const chunks = files.reduce((sum, file) => sum + Math.ceil(file.data.length / CHUNK), 0)
      yield* eventually(`all ${chunks} chunks are committed on 3 nodes each`, Effect.suspend(() => {
        const total = cluster.ids.reduce((sum, id) => sum + committedOn(id).length, 0)
        return total === chunks * 3 ? Effect.void : Effect.fail(new Error(`${total} committed copies`))
      }))
      const held = committedOn(victim)
      expect(held.length).toBeGreaterThan(0)
      yield* cluster.node(victim).kill("SIGKILL")
      const others = cluster.ids.filter((id) => id !== victim)
      yield* eventually("every chunk the victim held has 3 copies on the other nodes", Effect.suspend(() => {
        const copies = held.map((version) => others.filter((id) => committedOn(id).includes(version)).length)
        return copies.every((n) => n === 3) ? Effect.void : Effect.fail(new Error(`copies: ${copies.join(",")}`))
      }), "60 seconds")
      expect(cluster.node(leader).output()).toMatch(new RegExp(`re-replicated chunk version \\S+ from gone node ${victim} to node n\\d`))
      for (const file of files) expectBytes(yield* client.readFile(file.path), file.data)

      yield* cluster.start(victim)
      yield* eventually("the returned node's copies are deleted as surplus", Effect.suspend(() => {
        const left = committedOn(victim).filter((version) => held.includes(version))
        return left.length === 0 ? Effect.void : Effect.fail(new Error(`${left.length} still on ${victim}`))
      }), "60 seconds")
      for (const version of held) expect(others.filter((id) => committedOn(id).includes(version)).length).toBe(3)
      for (const file of files) expectBytes(yield* client.readFile(file.path), file.data)
    }), { timeout: 180_000 })
})
