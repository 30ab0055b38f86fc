/**
 * Large reads through a handle, with real node processes: the leader plans, the bytes come
 * from a replica (the node the client talks to first), and one that is damaged on disk or dead
 * is passed over for another (and a damaged copy on the leader repaired); read-ahead bytes are used only while a fresh plan names the same
 * versions.
 */
import { describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { CHUNK_HEADER_SIZE } from "../../layers/chunks/chunkFile.ts"
import { expectBytes, patternBytes } from "../support/bytes.ts"
import { startCluster } from "../support/cluster.ts"
import { clientThrough, eventually, leaderOf } from "../support/durability.ts"

const CHUNK = 64 * 1024
const CHUNKS = 6

/** Once `count` chunk files are committed under `dataDir`, flips one byte in the data of each. */
const damageEveryChunk = (dataDir: string, count: number) =>
  Effect.gen(function*() {
    const dir = join(dataDir, "chunks", "committed")
    const names = yield* eventually(`${count} chunks committed in ${dir}`, Effect.suspend(() => {
      const found = existsSync(dir) ? readdirSync(dir) : []
      return found.length === count ? Effect.succeed(found) : Effect.fail(new Error(`${found.length} chunks in ${dir}`))
    }))
    for (const name of names) {
      const bytes = readFileSync(join(dir, name))
      bytes[CHUNK_HEADER_SIZE + 4 + 10]! ^= 0x20
      writeFileSync(join(dir, name), bytes)
    }
  })

describe("reads from the replicas (real node processes)", () => {
  it.scopedLive("a large read returns the right bytes past a replica damaged on disk and a dead one", () =>
    Effect.gen(function*() {
      const cluster = yield* startCluster({ chunkSize: CHUNK })
      const leader = yield* leaderOf(cluster)
      const dead = cluster.ids.find((id) => id !== leader)!
      const client = yield* clientThrough(cluster.addresses)
      const data = patternBytes(CHUNKS * CHUNK + 100, 31)
      yield* client.writeFile("/f", data)
      // The client reads from the node it talks to (the leader) first, then from the others,
      // starting at a different one per chunk: damaged, then dead or alive, then the third.
      yield* damageEveryChunk(cluster.dataDir(leader), CHUNKS + 1)
      yield* cluster.node(dead).kill("SIGKILL")

      const handle = yield* client.open("/f", "r")
      // Sequential reads of 4 chunks: the second is read ahead, and used.
      expectBytes(yield* handle.read(4 * CHUNK, 0), data.subarray(0, 4 * CHUNK))
      expectBytes(yield* handle.read(4 * CHUNK, 4 * CHUNK), data.subarray(4 * CHUNK))
      expectBytes(yield* handle.read(data.length + 10, 0), data)
      yield* handle.close
      // The leader, whose copies failed a client's read, repairs them from the live follower.
      yield* eventually("the leader repaired its damaged copies", Effect.suspend(() => {
        const repairs = cluster.node(leader).output().match(/on node n\d was damaged; repaired from node n\d/g) ?? []
        return repairs.length >= CHUNKS ? Effect.void : Effect.fail(new Error(`${repairs.length} repairs logged`))
      }))
      expectBytes(yield* client.readFile("/f"), data)
    }), { timeout: 60_000 })

  it.scopedLive("bytes read ahead are not returned once another client has changed them", () =>
    Effect.gen(function*() {
      const cluster = yield* startCluster({ chunkSize: CHUNK })
      const reader = yield* clientThrough(cluster.addresses)
      const writer = yield* clientThrough(cluster.addresses)
      const piece = 4 * CHUNK
      const data = patternBytes(4 * piece, 37)
      yield* writer.writeFile("/g", data)
      const handle = yield* reader.open("/g", "r")
      expectBytes(yield* handle.read(piece), data.subarray(0, piece))
      // The next two pieces are on their way (or here) now; the writer changes the second one.
      const fresh = patternBytes(piece, 41)
      const overwrite = yield* writer.open("/g", "r+")
      yield* overwrite.write(fresh, piece)
      yield* overwrite.close
      expectBytes(yield* handle.read(piece), fresh)
      expectBytes(yield* handle.read(piece), data.subarray(2 * piece, 3 * piece))
      yield* handle.close
    }), { timeout: 60_000 })
})
