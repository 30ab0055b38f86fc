/**
 * Reading a healed cluster's final state (src/sim/finalState.ts): each running node's metadata
 * walked directly from its store, each node's stored chunk versions, and every file and
 * directory read back through the SDK.
 */
import { Effect, Option } from "effect"
import type { SandstoreClientShape } from "../client/SandstoreClient.ts"
import { ROOT_INODE } from "../domain/fs.ts"
import type { MetadataServiceShape } from "../services/MetadataService.ts"
import type { SimCluster } from "./cluster.ts"
import { APPEND_LOG } from "./appendLog.ts"
import { identifyContent } from "./content.ts"
import type { DirectoryListing, FileReadBack, NamespaceEntry, NodeMetadata, StoredChunk } from "./finalState.ts"

const PAGE = 1000

const childPath = (parent: string, name: string) => (parent === "/" ? `/${name}` : `${parent}/${name}`)

const byPath = <A extends { readonly path: string }>(a: A, b: A) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0)

/** The whole namespace of one node's store, walked from the root. */
export const nodeMetadata = (nodeId: string, metadata: MetadataServiceShape) =>
  Effect.gen(function*() {
    const entries: Array<NamespaceEntry> = [{ path: "/", type: "directory", inode: ROOT_INODE, size: 0, chunks: [] }]
    const walk = (inode: number, path: string): Effect.Effect<void, unknown> =>
      Effect.gen(function*() {
        let cookie: string | null = null
        do {
          const page: { readonly entries: ReadonlyArray<{ readonly name: string; readonly inode: number; readonly type: string; readonly attributes: { readonly size: number } }>; readonly cookie: string | null } =
            yield* metadata.readdirplus(inode, cookie, PAGE)
          for (const entry of page.entries) {
            const here = childPath(path, entry.name)
            if (entry.type === "directory") {
              entries.push({ path: here, type: "directory", inode: entry.inode, size: 0, chunks: [] })
              yield* walk(entry.inode, here)
            } else {
              const chunks = yield* metadata.chunks(entry.inode)
              entries.push({ path: here, type: "file", inode: entry.inode, size: entry.attributes.size, chunks })
            }
          }
          cookie = page.cookie
        } while (cookie !== null)
      })
    yield* walk(ROOT_INODE, "/")
    const appliedIndex = yield* metadata.appliedIndex
    const garbage = yield* metadata.garbage(1_000_000)
    const node: NodeMetadata = { nodeId, appliedIndex, entries: entries.sort(byPath), garbage }
    return node
  })

export const clusterMetadata = (cluster: SimCluster) =>
  Effect.gen(function*() {
    const nodes: Array<NodeMetadata> = []
    for (const node of cluster.nodes) {
      const metadata = cluster.metadata(node.id)
      if (Option.isNone(metadata)) continue
      nodes.push(yield* nodeMetadata(node.id, metadata.value).pipe(Effect.orDie))
    }
    return nodes
  })

export const storedChunks = (cluster: SimCluster) =>
  Effect.gen(function*() {
    const chunks: Array<StoredChunk> = []
    for (const node of cluster.nodes) {
      const listed = yield* Effect.orDie(node.disks.chunkStore.list)
      for (const versionId of listed.staged) chunks.push({ nodeId: node.id, versionId, state: "staged" })
      for (const versionId of listed.committed) chunks.push({ nodeId: node.id, versionId, state: "committed" })
    }
    return chunks.sort((a, b) => (a.nodeId === b.nodeId ? (a.versionId < b.versionId ? -1 : 1) : a.nodeId < b.nodeId ? -1 : 1))
  })

/** Every file and directory under `/`, read through the SDK (skipping `skip`). */
export const readBack = (client: SandstoreClientShape, skip: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    const files: Array<FileReadBack> = []
    const directories: Array<DirectoryListing> = []
    const visit = (path: string): Effect.Effect<void, unknown> =>
      Effect.gen(function*() {
        const entries = yield* client.readdir(path, { withFileTypes: true })
        const names = entries.map((entry) => entry.name).filter((name) => !skip.includes(childPath(path, name))).sort()
        directories.push({ path, names })
        for (const name of names) {
          const here = childPath(path, name)
          const entry = entries.find((e) => e.name === name)!
          if (entry.isDirectory()) {
            yield* visit(here)
          } else {
            const read = yield* Effect.either(client.readFile(here))
            files.push(
              read._tag === "Right"
                ? { _tag: "Read", path: here, bytes: read.right, content: identifyContent(read.right) }
                : { _tag: "Failed", path: here, error: read.left._tag }
            )
          }
        }
      })
    yield* visit("/")
    return { files: files.sort(byPath), directories: directories.sort(byPath) }
  })

/** The append-only log read back through the SDK; null when it was never created. */
export const readAppendLog = (client: SandstoreClientShape) =>
  client.readFile(APPEND_LOG).pipe(
    Effect.map((bytes): FileReadBack => ({ _tag: "Read", path: APPEND_LOG, bytes, content: undefined })),
    Effect.catchTag("NotFound", () => Effect.succeed(null)),
    Effect.catchAll((error) => Effect.succeed<FileReadBack>({ _tag: "Failed", path: APPEND_LOG, error: error._tag }))
  )
