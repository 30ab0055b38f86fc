/** Recursive removal of a directory through the SDK, many requests in flight at once. */
import { Effect } from "effect"
import type { ClientError } from "../client/errors.ts"
import type { SandstoreClientShape } from "../client/SandstoreClient.ts"

/** Removes `path` and everything under it; resolves with the number of names removed. */
export const removeTree = (
  client: SandstoreClientShape,
  path: string,
  concurrency: number
): Effect.Effect<number, ClientError> =>
  Effect.gen(function*() {
    const entries = yield* client.readdir(path, { withFileTypes: true })
    const removed = yield* Effect.forEach(
      entries,
      (entry) =>
        entry.isDirectory()
          ? removeTree(client, `${path}/${entry.name}`, concurrency)
          : Effect.as(client.unlink(`${path}/${entry.name}`), 1),
      { concurrency }
    )
    yield* client.rmdir(path)
    return removed.reduce((sum, n) => sum + n, 1)
  })
