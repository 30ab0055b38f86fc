/**
 * Moving file contents between the local disk and Sandstore through a FileHandle, piece by
 * piece, so a large file is never held in memory (let alone twice). `get` writes LOCAL.tmp and
 * renames it into place, so a failed download leaves no partial file behind.
 */
import { FileSystem, Path } from "@effect/platform"
import { Effect, Stream } from "effect"
import { IsADirectory } from "../domain/errors.ts"
import { SandstoreClient } from "../client/SandstoreClient.ts"
import { O_CREAT, O_WRONLY } from "../client/OpenFlags.ts"
import { MAX_TRANSFER_BYTES } from "../protocol/ClientApi.ts"
import { join as remoteJoin } from "../client/paths.ts"
import { makeProgress } from "./progress.ts"

/** Bytes per transfer: a whole chunk (one version written, one replica read per call), capped by the API. */
const pieceBytes = Effect.map(
  Effect.flatMap(SandstoreClient, (client) => client.fsInfo),
  (info) => Math.min(info.chunkSize, MAX_TRANSFER_BYTES)
)

/** A remote path that names an existing directory means "inside it, under the same name". */
const remoteTarget = (remote: string, name: string) =>
  Effect.gen(function*() {
    const client = yield* SandstoreClient
    const existing = yield* Effect.option(client.stat(remote))
    return existing._tag === "Some" && existing.value.isDirectory() ? remoteJoin(remote, name) : remote
  })

/**
 * Upload LOCAL to REMOTE. Without `offset` REMOTE is replaced; with it, LOCAL's bytes are
 * written at that offset into REMOTE (created if missing, never truncated), so a write past
 * the end leaves a hole that reads as zeros.
 */
export const put = (local: string, remote: string, offset?: number) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const client = yield* SandstoreClient
    const info = yield* fs.stat(local)
    if (info.type === "Directory") return yield* new IsADirectory({ message: "is a directory", path: local })
    const target = yield* remoteTarget(remote, path.basename(local))
    const progress = makeProgress(`put ${target}`, Number(info.size))
    const handle = yield* client.open(target, offset === undefined ? "w" : O_WRONLY | O_CREAT)
    let position = offset ?? 0
    // Whole-chunk pieces go straight through as one new version per chunk; smaller ones would be
    // buffered and each flush would copy the chunk's earlier bytes into yet another version.
    const piece = yield* pieceBytes
    yield* fs.stream(local, { chunkSize: piece }).pipe(
      Stream.runForEach((bytes) =>
        Effect.zipRight(handle.write(bytes, position), Effect.suspend(() => {
          position += bytes.length
          return progress.advance(bytes.length)
        }))
      ),
      Effect.onError(() => Effect.ignore(handle.close))
    )
    yield* handle.close
    yield* progress.done
  })

export const get = (remote: string, local: string) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const client = yield* SandstoreClient
    const stats = yield* client.stat(remote)
    if (stats.isDirectory()) return yield* new IsADirectory({ message: "is a directory", path: remote })
    const localIsDirectory = yield* fs.stat(local).pipe(
      Effect.map((info) => info.type === "Directory"),
      Effect.orElseSucceed(() => false)
    )
    const target = localIsDirectory ? path.join(local, path.basename(remote)) : local
    const temporary = `${target}.tmp`
    const progress = makeProgress(`get ${remote}`, stats.size)
    yield* Effect.scoped(Effect.gen(function*() {
      const piece = yield* pieceBytes
      const handle = yield* client.openScoped(remote, "r")
      const file = yield* fs.open(temporary, { flag: "w" })
      while (true) {
        const bytes = yield* handle.read(piece)
        if (bytes.length === 0) break
        yield* file.writeAll(bytes)
        yield* progress.advance(bytes.length)
      }
      yield* file.sync
    })).pipe(Effect.onError(() => Effect.ignore(fs.remove(temporary))))
    yield* fs.rename(temporary, target)
    yield* progress.done
  })

const writeStdout = (bytes: Uint8Array) =>
  Effect.async<void>((resume) => {
    process.stdout.write(bytes, () => resume(Effect.void))
  })

/** Write `length` bytes (default: to the end) of REMOTE from `offset` (default 0) to stdout. */
export const cat = (remote: string, offset = 0, length = Number.POSITIVE_INFINITY) =>
  Effect.gen(function*() {
    const client = yield* SandstoreClient
    yield* Effect.scoped(Effect.gen(function*() {
      const piece = yield* pieceBytes
      const handle = yield* client.openScoped(remote, "r")
      let position = offset
      let remaining = length
      while (remaining > 0) {
        const bytes = yield* handle.read(Math.min(piece, remaining), position)
        if (bytes.length === 0) break
        position += bytes.length
        remaining -= bytes.length
        yield* writeStdout(bytes)
      }
    }))
  })
