/**
 * A read, pwrite or truncate resolves its path to an inode, then acts on that inode (steps.ts).
 * The histories below are the shapes of sim seeds 1 and 4 (5 s), which the path-atomic model
 * wrongly rejected, and the anomalies that the two-step model must still reject.
 */
import { describe, expect, it } from "@effect/vitest"
import { HistoryBuilder, readResult } from "../../src/sim/check/historyBuilder.ts"
import { checkLinearizability } from "../../src/sim/check/linearizability.ts"
import { patternBytes } from "../../src/sim/content.ts"

const pwrite = (path: string, seed: number) => ({ f: "pwrite" as const, path, offset: 0, seed, length: 4 })
const bytesOf = (seed: number) => ({ _tag: "Bytes" as const, bytes: patternBytes(seed, 4) })

describe("linearizability: operations that resolve a path, then act on the inode", () => {
  it("accepts a pwrite opened before a rename that lands in the renamed file (sim seed 1)", () => {
    const h = new HistoryBuilder().run(0, { f: "create", path: "/a" })
    const slow = h.invoke(1, pwrite("/a", 5))
    h.run(0, { f: "rename", path: "/a", to: "/b" })
    h.run(0, { f: "read", path: "/b" }, readResult(null))
    h.ok(slow)
    h.run(0, { f: "read", path: "/b" }, bytesOf(5))
    h.refused(0, { f: "read", path: "/a" }, "NotFound")
    expect(checkLinearizability(h.build())).toMatchObject({ valid: true })
  })

  it("accepts NotFound from a pwrite whose file was replaced by a rename while it was in flight (sim seed 4)", () => {
    const h = new HistoryBuilder().run(0, { f: "create", path: "/a" }).run(0, { f: "create", path: "/b" })
    const slow = h.invoke(1, pwrite("/b", 5))
    h.run(0, { f: "rename", path: "/a", to: "/b" })
    h.fail(slow, "NotFound")
    h.run(0, { f: "read", path: "/b" }, readResult(null))
    expect(checkLinearizability(h.build())).toMatchObject({ valid: true })
  })

  it("accepts a truncate that resolved before an unlink and then changed nothing visible", () => {
    const h = new HistoryBuilder().run(0, { f: "create", path: "/a" })
    const slow = h.invoke(1, { f: "truncate", path: "/a", size: 9 })
    h.run(0, { f: "unlink", path: "/a" })
    h.ok(slow)
    h.refused(0, { f: "read", path: "/a" }, "NotFound")
    expect(checkLinearizability(h.build())).toMatchObject({ valid: true })
  })

  it("rejects a pwrite of the old name invoked after the rename completed", () => {
    const h = new HistoryBuilder()
      .run(0, { f: "create", path: "/a" })
      .run(0, { f: "rename", path: "/a", to: "/b" })
      .run(1, pwrite("/a", 5))
    expect(checkLinearizability(h.build())).toMatchObject({ valid: false })
  })

  it("rejects NotFound from a pwrite of a file that existed throughout and was never replaced", () => {
    const h = new HistoryBuilder().run(0, { f: "create", path: "/b" })
    const slow = h.invoke(1, pwrite("/b", 5))
    h.run(0, { f: "rename", path: "/b", to: "/b" })
    h.fail(slow, "NotFound")
    expect(checkLinearizability(h.build())).toMatchObject({ valid: false })
  })

  it("rejects a pwrite seen in the renamed file and then lost from it", () => {
    const h = new HistoryBuilder().run(0, { f: "create", path: "/a" })
    const slow = h.invoke(1, pwrite("/a", 5))
    h.run(0, { f: "rename", path: "/a", to: "/b" })
    h.ok(slow)
    h.run(0, { f: "read", path: "/b" }, bytesOf(5))
    h.run(0, { f: "read", path: "/b" }, readResult(null))
    expect(checkLinearizability(h.build())).toMatchObject({ valid: false })
  })
})
