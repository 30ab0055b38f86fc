import { describe, expect, it } from "@effect/vitest"
import type { ChunkRef } from "../../src/domain/fs.ts"
import { contentBytes, identifyContent, patternBytes } from "../../src/sim/content.ts"
import { checkAll, checkExactlyOnce } from "../../src/sim/check/index.ts"
import { APPEND_LOG, encodeRecord } from "../../src/sim/appendLog.ts"
import { concatBytes } from "../../src/lib/concatBytes.ts"
import { checkDurability } from "../../src/sim/check/durability.ts"
import { content, HistoryBuilder, readResult } from "../../src/sim/check/historyBuilder.ts"
import { checkNamespaceInvariants } from "../../src/sim/check/namespaceInvariants.ts"
import { checkOrphanedChunks } from "../../src/sim/check/orphanedChunks.ts"
import type { FinalState, NamespaceEntry, NodeMetadata } from "../../src/sim/finalState.ts"
import type { Verdict } from "../../src/sim/history.ts"

const chunk = (versionId: string, index: number, length: number, nodes = ["n1", "n2"]): ChunkRef => ({
  index, versionId, storedLength: length, length, checksum: 0, nodes
})

const root: NamespaceEntry = { path: "/", type: "directory", inode: 1, size: 0, chunks: [] }
const dir = (path: string, inode: number): NamespaceEntry => ({ path, type: "directory", inode, size: 0, chunks: [] })
const file = (path: string, inode: number, size: number, chunks: ReadonlyArray<ChunkRef> = []): NamespaceEntry =>
  ({ path, type: "file", inode, size, chunks })

const node = (nodeId: string, entries: ReadonlyArray<NamespaceEntry>, appliedIndex = 10): NodeMetadata =>
  ({ nodeId, appliedIndex, entries, garbage: [] })

const readBack = (path: string, bytes: Uint8Array) => ({ _tag: "Read" as const, path, bytes, content: identifyContent(bytes) })

const state = (overrides: Partial<FinalState>): FinalState => ({ nodes: [], chunks: [], files: [], directories: [], ...overrides })

describe("durability", () => {
  const history = new HistoryBuilder()
    .run(0, { f: "mkdir", path: "/d" })
    .run(0, { f: "write", path: "/d/a", content: content(11, 64) })
    .run(1, { f: "create", path: "/b" })
    .run(1, { f: "pwrite", path: "/b", offset: 8, seed: 12, length: 4 })
    .build()
  const bBytes = new Uint8Array(12)
  bBytes.set(patternBytes(12, 4), 8)

  it("accepts a read-back that holds every acknowledged change", () => {
    const final = state({
      files: [readBack("/b", bBytes), readBack("/d/a", contentBytes(content(11, 64)))],
      directories: [{ path: "/", names: ["b", "d"] }, { path: "/d", names: ["a"] }]
    })
    expect(checkDurability(history, final)).toMatchObject({ valid: true })
  })

  it("reports a lost acknowledged write, with the operations on its path", () => {
    const final = state({
      files: [readBack("/b", bBytes), readBack("/d/a", contentBytes(content(10, 64)))],
      directories: [{ path: "/", names: ["b", "d"] }, { path: "/d", names: ["a"] }]
    })
    const verdict = checkDurability(history, final)
    expect(verdict.valid).toBe(false)
    if (!verdict.valid) {
      expect(verdict.reason).toContain("write /d/a")
      expect(new Set(verdict.subHistory.map((e) => e.id))).toEqual(new Set([0, 1]))
    }
  })

  it("reports a vanished directory and an unreadable file", () => {
    const final = state({ files: [{ _tag: "Failed", path: "/b", error: "Unavailable" }], directories: [{ path: "/", names: ["b"] }] })
    const verdict = checkDurability(history, final)
    expect(verdict.valid).toBe(false)
    if (!verdict.valid) expect(verdict.reason).toMatch(/4 acknowledged operation\(s\) lost.*mkdir \/d => ok: the directory is gone.*cannot be read back \(Unavailable\)/)
  })

  it("does not demand a write that an open (info) operation may have replaced, but the read-back must fit a linearization", () => {
    const h = new HistoryBuilder()
    h.run(0, { f: "write", path: "/a", content: content(1, 8) })
    h.info(h.invoke(1, { f: "write", path: "/a", content: content(2, 8) }))
    const either = [content(1, 8), content(2, 8)].map((c) =>
      checkDurability(h.build(), state({ files: [readBack("/a", contentBytes(c))], directories: [{ path: "/", names: ["a"] }] })))
    expect(either.map((v) => v.valid)).toEqual([true, true])
    const foreign = checkDurability(h.build(), state({ files: [readBack("/a", contentBytes(content(3, 8)))], directories: [{ path: "/", names: ["a"] }] }))
    expect(foreign.valid).toBe(false)
    if (!foreign.valid) expect(foreign.reason).toContain("fits no linearization")
  })

  it("rejects a file that reappears after an acknowledged unlink", () => {
    const h = new HistoryBuilder()
      .run(0, { f: "write", path: "/a", content: content(1, 8) })
      .run(0, { f: "unlink", path: "/a" })
      .run(1, { f: "read", path: "/b" }, readResult(null))
    const verdict = checkDurability(h.build(), state({ files: [readBack("/a", contentBytes(content(1, 8)))] }))
    expect(verdict.valid).toBe(false)
  })
})

describe("namespace invariants", () => {
  const good = [root, dir("/d", 2), file("/d/a", 3, 100, [chunk("v1", 0, 100)])]

  it("accepts a well-formed tree held identically by every replica", () => {
    expect(checkNamespaceInvariants(state({ nodes: [node("n1", good), node("n2", good)] }))).toEqual({ valid: true, checked: 6 })
  })

  it("reports dangling entries, second names, chunks past the size and divergent replicas", () => {
    const broken = [root, file("/x/a", 4, 10), file("/b", 3, 10), file("/c", 5, 10, [chunk("v2", 0, 20)])]
    const verdict = checkNamespaceInvariants(state({ nodes: [node("n1", [...good, ...broken.slice(1)]), node("n2", good)] }))
    expect(verdict.valid).toBe(false)
    if (!verdict.valid) {
      expect(verdict.reason).toContain("/x/a dangles")
      expect(verdict.reason).toContain("inode 3 is named twice")
      expect(verdict.reason).toContain("/c chunk 0 ends at 20, past the size 10")
      expect(verdict.reason).toContain("nodes n1 and n2 differ at applied index 10")
    }
  })

  it("measures chunk ends with the run's chunk size", () => {
    const entries = [root, file("/a", 2, 1030, [chunk("v1", 0, 1024), chunk("v2", 1, 6)])]
    expect(checkNamespaceInvariants(state({ nodes: [node("n1", entries)] }), { chunkSize: 1024 }).valid).toBe(true)
    expect(checkNamespaceInvariants(state({ nodes: [node("n1", entries)] }), { chunkSize: 2048 }).valid).toBe(false)
  })
})

describe("orphaned chunks", () => {
  const entries = [root, file("/a", 2, 10, [chunk("v1", 0, 10)])]

  it("accepts stores holding exactly the referenced, committed versions", () => {
    const final = state({
      nodes: [node("n1", entries)],
      chunks: [{ nodeId: "n1", versionId: "v1", state: "committed" }, { nodeId: "n2", versionId: "v1", state: "committed" }]
    })
    expect(checkOrphanedChunks(final)).toEqual({ valid: true, checked: 2 })
  })

  it("reports leftovers, uncollected garbage, staged references and missing replicas", () => {
    const final = state({
      nodes: [{ ...node("n1", entries), garbage: [chunk("v0", 0, 5)] }],
      chunks: [
        { nodeId: "n1", versionId: "v1", state: "staged" },
        { nodeId: "n3", versionId: "v9", state: "committed" }
      ]
    })
    const verdict = checkOrphanedChunks(final)
    expect(verdict.valid).toBe(false)
    if (!verdict.valid) {
      expect(verdict.reason).toContain("garbage version(s): v0")
      expect(verdict.reason).toContain("orphan: v9 (committed) on node n3")
      expect(verdict.reason).toContain("v1 on node n1 is referenced but still staged")
      expect(verdict.reason).toContain("missing replica: v1 is not on node n2")
    }
  })
})

describe("checkAll", () => {
  it("names one verdict per checker, each a Verdict", () => {
    const history = new HistoryBuilder().run(0, { f: "write", path: "/a", content: content(1, 10) }).build()
    const results = checkAll({
      history,
      finalState: state({
        nodes: [node("n1", entries()), node("n2", entries())],
        chunks: [{ nodeId: "n1", versionId: "v1", state: "committed" }, { nodeId: "n2", versionId: "v1", state: "committed" }],
        files: [readBack("/a", contentBytes(content(1, 10)))],
        directories: [{ path: "/", names: ["a"] }]
      })
    })
    const verdicts: ReadonlyArray<Verdict> = results.map((r) => r.verdict)
    expect(results.map((r) => r.name)).toEqual([
      "linearizability", "durability", "namespace invariants", "orphaned chunks", "exactly once"
    ])
    expect(verdicts.every((v) => v.valid)).toBe(true)
  })
})

function entries(): ReadonlyArray<NamespaceEntry> {
  return [root, file("/a", 2, 10, [chunk("v1", 0, 10)])]
}

describe("exactly once (the append-only log)", () => {
  const append = (record: number) => ({ f: "append" as const, path: APPEND_LOG, record })
  const log = (...records: ReadonlyArray<number>) =>
    ({ _tag: "Read" as const, path: APPEND_LOG, bytes: concatBytes(records.map(encodeRecord)), content: undefined })
  const reasonOf = (verdict: Verdict) => (verdict.valid ? "valid" : verdict.reason)

  it("each acknowledged record once, an unknown one at most once, a refused one never: valid", () => {
    const b = new HistoryBuilder()
    b.run(0, append(1))
    b.info(b.invoke(1, append(2)))
    b.info(b.invoke(1, append(3)))
    b.fail(b.invoke(2, append(4)), "NotFound")
    expect(checkExactlyOnce(b.build(), state({ appendLog: log(2, 1) })).valid).toBe(true)
  })

  it("a record that landed twice is a violation, however its append ended", () => {
    for (const end of ["ok", "info"] as const) {
      const b = new HistoryBuilder()
      const id = b.invoke(0, append(7))
      if (end === "ok") b.ok(id)
      else b.info(id)
      expect(reasonOf(checkExactlyOnce(b.build(), state({ appendLog: log(7, 9, 7) })))).toContain("landed 2 times")
    }
  })

  it("an acknowledged record missing, a refused one present, a stranger, a torn log: violations", () => {
    const b = new HistoryBuilder()
    b.run(0, append(1))
    b.fail(b.invoke(1, append(2)), "NotFound")
    const reason = reasonOf(checkExactlyOnce(b.build(), state({ appendLog: log(2, 3) })))
    expect(reason).toContain("acknowledged but is not in the log")
    expect(reason).toContain("was refused (NotFound) but is in the log")
    expect(reason).toContain("no append wrote it")
    const torn = log(1)
    expect(reasonOf(checkExactlyOnce(b.build(), state({ appendLog: { ...torn, bytes: torn.bytes.subarray(0, 7) } })))).toContain("record")
  })

  it("a request refused as reusing an id is a violation: no correct client reuses one", () => {
    const b = new HistoryBuilder()
    b.info(b.invoke(0, { f: "mkdir", path: "/d" }), "RequestIdReused")
    expect(reasonOf(checkExactlyOnce(b.build(), state({})))).toContain("reusing a request id")
  })
})
