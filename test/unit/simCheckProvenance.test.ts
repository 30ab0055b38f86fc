/**
 * The shrinker keeps the causes of what a sub-history observes (provenance.ts). Without them it
 * returned "minimal" violations that only fail because their setup was dropped: a lone
 * `rename /a -> /a => ok`, two renames that explain each other's source, or an operation in a
 * directory whose mkdir was dropped.
 */
import { describe, expect, it } from "@effect/vitest"
import { HistoryBuilder, readResult } from "../../src/sim/check/historyBuilder.ts"
import { checkLinearizability } from "../../src/sim/check/linearizability.ts"
import { toOperations } from "../../src/sim/check/operations.ts"
import { explainedBy } from "../../src/sim/check/provenance.ts"

const opsOf = (h: HistoryBuilder) => toOperations(h.build())

describe("shrinking keeps the causes of observations", () => {
  it("a rename does not explain its own source", () => {
    const ops = opsOf(new HistoryBuilder().run(0, { f: "create", path: "/a" }).run(0, { f: "rename", path: "/a", to: "/a" }))
    const explained = explainedBy(ops)
    expect(explained([ops[1]!])).toBe(false)
    expect(explained(ops)).toBe(true)
  })

  it("two renames do not explain each other's sources when the second began after the first ended", () => {
    const ops = opsOf(
      new HistoryBuilder()
        .run(0, { f: "mkdir", path: "/d" })
        .run(0, { f: "rename", path: "/d", to: "/e" })
        .run(1, { f: "rename", path: "/e", to: "/d" })
    )
    const explained = explainedBy(ops)
    expect(explained([ops[1]!, ops[2]!])).toBe(false)
    expect(explained(ops)).toBe(true)
  })

  it("an operation in a directory keeps the directory's creation", () => {
    const ops = opsOf(new HistoryBuilder().run(0, { f: "mkdir", path: "/d" }).run(0, { f: "create", path: "/d/c" }))
    const explained = explainedBy(ops)
    expect(explained([ops[1]!])).toBe(false)
    expect(explained(ops)).toBe(true)
  })

  it("an observed absence keeps the removal when the creation is kept", () => {
    const ops = opsOf(
      new HistoryBuilder()
        .run(0, { f: "create", path: "/a" })
        .run(0, { f: "unlink", path: "/a" })
        .refused(1, { f: "read", path: "/a" }, "NotFound")
    )
    const explained = explainedBy(ops)
    expect(explained([ops[0]!, ops[2]!])).toBe(false)
    expect(explained([ops[2]!])).toBe(true)
    expect(explained(ops)).toBe(true)
  })

  it("shrinks a read of a moved-away file to a sub-history that shows the move", () => {
    const h = new HistoryBuilder()
      .run(0, { f: "mkdir", path: "/d" })
      .run(0, { f: "create", path: "/d/c" })
      .run(0, { f: "rename", path: "/d", to: "/e" })
      .run(1, { f: "read", path: "/d/c" }, readResult(null))
    const verdict = checkLinearizability(h.build())
    if (verdict.valid) throw new Error("expected a violation")
    expect([...new Set(verdict.subHistory.map((e) => e.id))]).toEqual([0, 1, 2, 3])
  })
})
