import { describe, expect, it } from "@effect/vitest"
import fc from "fast-check"
import { content, HistoryBuilder, readResult } from "../../src/sim/check/historyBuilder.ts"
import { checkLinearizability } from "../../src/sim/check/linearizability.ts"
import { patternBytes } from "../../src/sim/content.ts"
import type { History, Operation } from "../../src/sim/history.ts"

const ids = (history: History): Array<number> => [...new Set(history.map((e) => e.id))].sort((a, b) => a - b)

const expectValid = (history: History) => {
  const verdict = checkLinearizability(history)
  expect(verdict).toMatchObject({ valid: true })
  return verdict
}

const expectViolation = (history: History) => {
  const verdict = checkLinearizability(history)
  if (verdict.valid) throw new Error(`expected a violation, got ${JSON.stringify(verdict)}`)
  // The returned sub-history must itself fail, and be part of the input.
  expect(checkLinearizability(verdict.subHistory).valid).toBe(false)
  for (const event of verdict.subHistory) expect(history).toContainEqual(event)
  return verdict
}

describe("linearizability: registers", () => {
  it("accepts sequential writes and reads", () => {
    const h = new HistoryBuilder()
      .run(0, { f: "write", path: "/a", content: content(7, 10) })
      .run(1, { f: "read", path: "/a" }, readResult(content(7, 10)))
      .run(0, { f: "write", path: "/a", content: null })
      .run(1, { f: "read", path: "/a" }, readResult(null))
    expect(expectValid(h.build())).toEqual({ valid: true, checked: 4 })
  })

  it("rejects a stale read after an acknowledged write, shrunk to the two writes and the read", () => {
    const h = new HistoryBuilder()
    for (let i = 0; i < 20; i++) h.run(i % 3, { f: "write", path: `/noise${i}`, content: content(100 + i, 5) })
    h.run(0, { f: "write", path: "/a", content: content(1, 8) })
    h.run(1, { f: "read", path: "/a" }, readResult(content(1, 8)))
    h.run(0, { f: "write", path: "/a", content: content(2, 8) })
    h.run(1, { f: "read", path: "/a" }, readResult(content(1, 8)))
    const verdict = expectViolation(h.build())
    if (verdict.valid) return
    expect(ids(verdict.subHistory)).toEqual([20, 22, 23])
    expect(verdict.reason).toContain("not linearizable")
  })

  it("rejects a lost acknowledged write", () => {
    const h = new HistoryBuilder()
      .run(0, { f: "write", path: "/a", content: content(1, 4) })
      .run(0, { f: "write", path: "/a", content: content(2, 4) })
      .run(1, { f: "read", path: "/a" }, readResult(content(1, 4)))
    const verdict = expectViolation(h.build())
    if (!verdict.valid) expect(ids(verdict.subHistory)).toEqual([0, 1, 2])
  })

  it("rejects a read that sees a write not yet invoked", () => {
    const h = new HistoryBuilder()
      .run(0, { f: "write", path: "/a", content: content(1, 4) })
      .run(1, { f: "read", path: "/a" }, readResult(content(9, 4)))
      .run(0, { f: "write", path: "/a", content: content(9, 4) })
    const verdict = expectViolation(h.build())
    // The first write stays: it is what made /a exist when the read returned.
    if (!verdict.valid) expect(ids(verdict.subHistory)).toEqual([0, 1, 2])
  })

  it("accepts concurrent overlapping writes observed in either order", () => {
    for (const [first, second] of [[1, 2], [2, 1]] as const) {
      const h = new HistoryBuilder()
      const w1 = h.invoke(0, { f: "write", path: "/a", content: content(1, 4) })
      const w2 = h.invoke(1, { f: "write", path: "/a", content: content(2, 4) })
      const r1 = h.invoke(2, { f: "read", path: "/a" })
      h.ok(r1, readResult(content(first, 4))).ok(w1).ok(w2)
      h.run(2, { f: "read", path: "/a" }, readResult(content(second, 4)))
      expectValid(h.build())
    }
  })

  it("rejects reads that see concurrent writes in opposite orders once both completed", () => {
    const h = new HistoryBuilder()
    const w1 = h.invoke(0, { f: "write", path: "/a", content: content(1, 4) })
    const w2 = h.invoke(1, { f: "write", path: "/a", content: content(2, 4) })
    h.ok(w1).ok(w2)
    h.run(2, { f: "read", path: "/a" }, readResult(content(1, 4)))
    h.run(3, { f: "read", path: "/a" }, readResult(content(2, 4)))
    h.run(2, { f: "read", path: "/a" }, readResult(content(1, 4)))
    const verdict = expectViolation(h.build())
    if (!verdict.valid) expect(verdict.subHistory.length).toBeLessThanOrEqual(8)
  })

  it("lets an info write take effect late, or never", () => {
    const applied = new HistoryBuilder()
    applied.run(0, { f: "write", path: "/a", content: content(1, 4) })
    applied.info(applied.invoke(1, { f: "write", path: "/a", content: content(2, 4) }))
    applied.run(0, { f: "read", path: "/a" }, readResult(content(1, 4)))
    applied.run(0, { f: "read", path: "/a" }, readResult(content(2, 4)))
    expectValid(applied.build())

    const never = new HistoryBuilder()
    never.run(0, { f: "write", path: "/a", content: content(1, 4) })
    never.info(never.invoke(1, { f: "write", path: "/a", content: content(2, 4) }))
    never.run(0, { f: "read", path: "/a" }, readResult(content(1, 4)))
    expectValid(never.build())
  })

  it("an info write takes effect at most once: it cannot reappear after being overwritten", () => {
    const h = new HistoryBuilder()
    h.run(0, { f: "write", path: "/a", content: content(1, 4) })
    h.info(h.invoke(1, { f: "write", path: "/a", content: content(2, 4) }))
    h.run(0, { f: "read", path: "/a" }, readResult(content(2, 4)))
    h.run(0, { f: "write", path: "/a", content: content(3, 4) })
    h.run(0, { f: "read", path: "/a" }, readResult(content(2, 4)))
    expectViolation(h.build())
  })

  it("an info write cannot take effect before its invocation", () => {
    const h = new HistoryBuilder()
    h.run(0, { f: "write", path: "/a", content: content(1, 4) })
    h.run(0, { f: "read", path: "/a" }, readResult(content(2, 4)))
    h.info(h.invoke(1, { f: "write", path: "/a", content: content(2, 4) }))
    expectViolation(h.build())
  })

  it("models pwrite and truncate bytes exactly", () => {
    const mixed = new Uint8Array(12)
    mixed.set(patternBytes(5, 8))
    mixed.set(patternBytes(6, 3).subarray(0, 3), 6)
    const h = new HistoryBuilder()
      .run(0, { f: "write", path: "/a", content: content(5, 8) })
      .run(0, { f: "pwrite", path: "/a", offset: 6, seed: 6, length: 3 })
      .run(0, { f: "truncate", path: "/a", size: 12 })
    // Pattern bytes are positional: pwrite at 6 puts pattern index 0 at file position 6.
    const expected = new Uint8Array(12)
    expected.set(patternBytes(5, 6))
    for (let i = 0; i < 3; i++) expected[6 + i] = patternBytes(6, 3)[i]!
    h.run(1, { f: "read", path: "/a" }, { _tag: "Bytes", bytes: expected })
    h.run(0, { f: "truncate", path: "/a", size: 4 })
    h.run(1, { f: "read", path: "/a" }, readResult(content(5, 4)))
    expectValid(h.build())

    const wrong = new HistoryBuilder()
      .run(0, { f: "write", path: "/a", content: content(5, 8) })
      .run(0, { f: "pwrite", path: "/a", offset: 10, seed: 6, length: 2 })
      .run(1, { f: "read", path: "/a" }, { _tag: "Bytes", bytes: mixed })
    expectViolation(wrong.build())
  })
})

describe("linearizability: namespace", () => {
  it("rejects EEXIST for a path that never existed", () => {
    const h = new HistoryBuilder()
      .run(0, { f: "create", path: "/b" })
      .refused(1, { f: "create", path: "/a" }, "AlreadyExists")
    const verdict = expectViolation(h.build())
    if (!verdict.valid) expect(ids(verdict.subHistory)).toEqual([1])
  })

  it("accepts exactly one of concurrent exclusive creates", () => {
    const h = new HistoryBuilder()
    const a = h.invoke(0, { f: "create", path: "/a" })
    const b = h.invoke(1, { f: "create", path: "/a" })
    const c = h.invoke(2, { f: "create", path: "/a" })
    h.fail(a, "AlreadyExists").ok(b).fail(c, "AlreadyExists")
    expectValid(h.build())

    const two = new HistoryBuilder()
    const x = two.invoke(0, { f: "create", path: "/a" })
    const y = two.invoke(1, { f: "create", path: "/a" })
    two.ok(x).ok(y)
    expectViolation(two.build())
  })

  it("checks ENOENT of unlink and rmdir, EEXIST of mkdir, and emptiness", () => {
    const h = new HistoryBuilder()
      .refused(0, { f: "unlink", path: "/f" }, "NotFound")
      .refused(0, { f: "rmdir", path: "/d" }, "NotFound")
      .run(0, { f: "mkdir", path: "/d" })
      .refused(1, { f: "mkdir", path: "/d" }, "AlreadyExists")
      .run(0, { f: "create", path: "/d/f" })
      .refused(1, { f: "rmdir", path: "/d" }, "NotEmpty")
      .run(0, { f: "unlink", path: "/d/f" })
      .run(1, { f: "rmdir", path: "/d" })
      .refused(0, { f: "create", path: "/d/g" }, "NotFound")
    expectValid(h.build())

    const removedTwice = new HistoryBuilder()
      .run(0, { f: "create", path: "/f" })
      .run(0, { f: "unlink", path: "/f" })
      .run(1, { f: "unlink", path: "/f" })
    const verdict = expectViolation(removedTwice.build())
    if (!verdict.valid) expect(ids(verdict.subHistory)).toEqual([0, 1, 2])

    const notEmptyLie = new HistoryBuilder()
      .run(0, { f: "mkdir", path: "/d" })
      .refused(1, { f: "rmdir", path: "/d" }, "NotEmpty")
    expectViolation(notEmptyLie.build())
  })

  it("rename moves existence and content between paths, and subtrees with directories", () => {
    const h = new HistoryBuilder()
      .run(0, { f: "write", path: "/a", content: content(3, 6) })
      .run(0, { f: "rename", path: "/a", to: "/b" })
      .refused(1, { f: "read", path: "/a" }, "NotFound")
      .run(1, { f: "read", path: "/b" }, readResult(content(3, 6)))
      .run(0, { f: "mkdir", path: "/d" })
      .run(0, { f: "rename", path: "/b", to: "/d/x" })
      .run(0, { f: "rename", path: "/d", to: "/e" })
      .run(1, { f: "read", path: "/e/x" }, readResult(content(3, 6)))
      .run(1, { f: "readdir", path: "/e" }, { _tag: "Names", names: ["x"] })
      .refused(1, { f: "rmdir", path: "/e" }, "NotEmpty")
    expectValid(h.build())

    const lost = new HistoryBuilder()
      .run(0, { f: "write", path: "/a", content: content(3, 6) })
      .run(0, { f: "write", path: "/b", content: content(4, 6) })
      .run(0, { f: "rename", path: "/a", to: "/b" })
      .run(1, { f: "read", path: "/b" }, readResult(content(4, 6)))
    const verdict = expectViolation(lost.build())
    if (!verdict.valid) expect(ids(verdict.subHistory)).toEqual([0, 1, 2, 3])
  })

  it("ignores fails that say nothing about the namespace", () => {
    const h = new HistoryBuilder()
      .refused(0, { f: "write", path: "/a", content: content(1, 2) }, "Conflict")
      .refused(0, { f: "read", path: "/a" }, "NotFound")
    expectValid(h.build())
  })
})

describe("linearizability: scale", () => {
  it("says inconclusive, not invalid, when the step budget runs out", () => {
    const h = new HistoryBuilder()
      .run(0, { f: "write", path: "/a", content: content(1, 4) })
      .run(1, { f: "read", path: "/a" }, readResult(content(2, 4)))
    const verdict = checkLinearizability(h.build(), { stepBudget: 1 })
    expect(verdict).toMatchObject({ valid: true, checked: 0 })
    expect(verdict.valid && verdict.inconclusive).toContain("spent its 1 steps")
  })

  it("checks a generated linearizable history of thousands of operations within the step budget", () => {
    // A sequential-per-round model run by 4 concurrent clients on 200 paths: each round's
    // operations overlap, and their results are computed in a fixed order, so a
    // linearization exists.
    const seeded = fc.sample(
      fc.array(fc.record({ path: fc.integer({ min: 0, max: 199 }), kind: fc.integer({ min: 0, max: 5 }), seed: fc.integer({ min: 1, max: 1 << 30 }) }), { minLength: 3000, maxLength: 3000 }),
      { seed: 42, numRuns: 1 }
    )[0]!
    const state = new Map<string, { seed: number; length: number } | null>()
    const h = new HistoryBuilder()
    for (let round = 0; round < seeded.length; round += 4) {
      const batch = seeded.slice(round, round + 4)
      const pending = batch.map((step, client) => {
        const path = `/f${step.path}`
        const op: Operation = step.kind <= 1
          ? { f: "write", path, content: { seed: step.seed, length: 16 } }
          : step.kind <= 3
          ? { f: "read", path }
          : step.kind === 4
          ? { f: "create", path }
          : { f: "unlink", path }
        return { id: h.invoke(client, op), op }
      })
      for (const { id, op } of pending) {
        const current = state.get(op.path)
        switch (op.f) {
          case "write":
            state.set(op.path, op.content)
            h.ok(id)
            break
          case "read":
            if (current === undefined) h.fail(id, "NotFound")
            else h.ok(id, readResult(current))
            break
          case "create":
            if (current !== undefined) h.fail(id, "AlreadyExists")
            else {
              state.set(op.path, null)
              h.ok(id)
            }
            break
          default:
            if (current === undefined) h.fail(id, "NotFound")
            else {
              state.delete(op.path)
              h.ok(id)
            }
        }
      }
    }
    const verdict = checkLinearizability(h.build())
    expect(verdict).toEqual({ valid: true, checked: 3000 })
  })
})
