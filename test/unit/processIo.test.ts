/** bench:compare's disk meter: write_bytes from /proc/<pid>/io. */
import { NodeContext } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { parseWriteBytes, processWrittenBytes } from "../../bench/compare/processIo.ts"

describe("parseWriteBytes", () => {
  it("takes write_bytes, not wchar nor cancelled_write_bytes", () => {
    const io = "rchar: 100\nwchar: 999\nsyscr: 3\nsyscw: 4\nread_bytes: 8192\nwrite_bytes: 40960\ncancelled_write_bytes: 4096\n"
    expect(parseWriteBytes(io)).toBe(40960)
  })

  it("refuses text without it", () => {
    expect(parseWriteBytes("rchar: 1\nwchar: 2\n")).toBeUndefined()
  })
})

describe("processWrittenBytes", () => {
  it.effect("counts what this process writes to a file on disk", () =>
    Effect.gen(function*() {
      const dir = mkdtempSync(join(tmpdir(), "sandstore-io-"))
      try {
        const before = yield* processWrittenBytes([process.pid])
        writeFileSync(join(dir, "f"), new Uint8Array(1024 * 1024).fill(1))
        const after = yield* processWrittenBytes([process.pid])
        // Pages are counted when dirtied: the megabyte, plus perhaps a page of the directory.
        expect(after - before).toBeGreaterThanOrEqual(1024 * 1024)
        expect(after - before).toBeLessThan(2 * 1024 * 1024)
      } finally {
        rmSync(dir, { recursive: true, force: true })
      }
    }).pipe(Effect.provide(NodeContext.layer)))

  it.effect("fails for a process that does not exist", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(processWrittenBytes([2 ** 22 + 12345]))
      expect(error.message).toContain("bytes written by process")
    }).pipe(Effect.provide(NodeContext.layer)))
})
