/**
 * A metadata snapshot collected whole, for tests: the state machine hands it over page by page
 * (MetadataService.snapshot), and a test compares or damages the bytes.
 */
import { Effect } from "effect"
import type { MetadataServiceShape } from "../../src/services/MetadataService.ts"

export const snapshotBytes = (md: Pick<MetadataServiceShape, "snapshot">) =>
  Effect.gen(function*() {
    const pages: Array<Buffer> = []
    const { appliedIndex, size } = yield* md.snapshot((bytes) => Effect.sync(() => void pages.push(Buffer.from(bytes))))
    const data: Uint8Array = Buffer.concat(pages)
    if (data.byteLength !== size) return yield* Effect.dieMessage(`snapshot says ${size} bytes, wrote ${data.byteLength}`)
    return { appliedIndex, data }
  })
