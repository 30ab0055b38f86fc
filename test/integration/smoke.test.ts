/**
 * `sandstore smoke` and `sandstore status`: the smoke scenario as an Effect against an in-process
 * standalone node, the status verdict on crafted answers, and both commands as real processes
 * against a spawned node.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { TcpCommunicator } from "../../layers/transport/tcp.ts"
import { runSmoke, type StepResult } from "../../src/cli/smoke.ts"
import { type SeedAnswer, verdict } from "../../src/client/clusterStatus.ts"
import type { RaftRole, Topology } from "../../src/domain/cluster.ts"
import { clientOf, standaloneNode } from "../support/client-node.ts"
import { freePort, runSandstore, startNode } from "../support/nodeProcess.ts"
import { tempDir } from "../support/tempDir.ts"

const sandstore = (...args: Array<string>) => runSandstore(args)

describe("smoke scenario", () => {
  it.scopedLive("every step holds against a standalone node, and the run's directory is removed", () =>
    Effect.gen(function*() {
      const address = yield* standaloneNode()
      const seen: Array<StepResult> = []
      const report = yield* runSmoke({ seeds: [address], onStep: (step) => Effect.sync(() => seen.push(step)) }).pipe(
        Effect.provide(TcpCommunicator)
      )
      expect(report.steps.filter((step) => !step.ok)).toEqual([])
      expect(report.passed).toBe(true)
      expect(seen).toEqual(report.steps)
      const names = report.steps.map((step) => step.name).join("\n")
      for (
        const expected of [
          "read it empty", "exactly 2.5 MiB visible", "fsync", "EBADF", "remove closed file", "remove open file",
          "rename closed file", "rename open file", "ENOTEMPTY", "rmdir of missing", "listdir", "stat of file",
          "stat of directory", "stat of missing", "8 concurrent O_CREAT", `remove ${report.directory}`
        ]
      ) expect(names).toContain(expected)
      const fs = yield* clientOf([address])
      expect((yield* Effect.flip(fs.stat(report.directory))).code).toBe("ENOENT")
    }))

  it.scopedLive("an unreachable cluster fails the connect step and reports every other step as not run", () =>
    Effect.gen(function*() {
      const port = yield* freePort
      const report = yield* runSmoke({ seeds: [`127.0.0.1:${port}`], runId: "unreachable" }).pipe(
        Effect.provide(TcpCommunicator)
      )
      expect(report.passed).toBe(false)
      expect(report.directory).toBe("/smoke-unreachable")
      const [connect, ...rest] = report.steps
      expect(connect).toMatchObject({ ok: false, reason: expect.stringContaining("EAGAIN") })
      expect(rest.length).toBeGreaterThan(10)
      for (const step of rest) expect(step).toMatchObject({ ok: false, reason: expect.stringMatching(/^not run: "connect to /) })
    }))
})

const answered = (seed: string, id: string, role: RaftRole, term: number): SeedAnswer => {
  const node = { id, address: seed, role: "hyperconverged", alive: true }
  const topology: Topology = {
    name: "test",
    self: {
      node,
      replicator: { nodeId: id, role, term, leaderId: null, commitIndex: 0, appliedIndex: 0, lastIndex: 0, snapshotIndex: 0 },
      leaderAddress: null
    },
    members: [node]
  }
  return { _tag: "Answered", seed, topology }
}
const down = (seed: string): SeedAnswer => ({ _tag: "Unreachable", seed, reason: "refused" })

describe("status verdict", () => {
  it("healthy with exactly one leader (or standalone node), even when other seeds are down", () => {
    expect(verdict([answered("a:1", "n1", "leader", 3), answered("a:2", "n2", "follower", 3), down("a:3")]))
      .toEqual({ healthy: true, leaderId: "n1" })
    expect(verdict([answered("a:1", "n1", "standalone", 1)])).toEqual({ healthy: true, leaderId: "n1" })
  })

  it("a node named by two seeds counts once", () => {
    expect(verdict([answered("a:1", "n1", "leader", 3), answered("localhost:1", "n1", "leader", 3)]))
      .toEqual({ healthy: true, leaderId: "n1" })
  })

  it("unhealthy: nothing reachable, no leader, two leaders in one term, leaders in different terms", () => {
    expect(verdict([down("a:1"), down("a:2")])).toEqual({ healthy: false, reason: "no node reachable among a:1,a:2" })
    expect(verdict([])).toEqual({ healthy: false, reason: "no seed addresses given" })
    expect(verdict([answered("a:1", "n1", "candidate", 4), answered("a:2", "n2", "follower", 3)]))
      .toEqual({ healthy: false, reason: "no leader among 2 reachable node(s)" })
    expect(verdict([answered("a:1", "n1", "leader", 5), answered("a:2", "n2", "leader", 5)]))
      .toEqual({ healthy: false, reason: "two leaders in the same term 5: n1, n2" })
    expect(verdict([answered("a:1", "n1", "leader", 4), answered("a:2", "n2", "leader", 5)]))
      .toEqual({ healthy: false, reason: "2 nodes claim leadership: n1 (term 4), n2 (term 5)" })
  })
})

describe("sandstore smoke and status processes", () => {
  it.scopedLive("smoke and status succeed against a node process; status of a dead port exits 1", () =>
    Effect.gen(function*() {
      const dataDir = yield* tempDir("sandstore-smoke-test-")
      const node = yield* startNode({ id: "n1", port: yield* freePort, dataDir })
      const deadSeed = `127.0.0.1:${yield* freePort}`

      const smoke = yield* sandstore("smoke", "--seeds", node.address)
      expect(smoke.stdout).not.toContain("FAIL")
      expect(smoke.stdout).toMatch(/^ok {3}connect to /)
      expect(smoke.stdout).toMatch(/\nsmoke: all \d+ steps held \(run [0-9a-f]{8}, \/smoke-[0-9a-f]{8} removed\)\n$/)
      expect(smoke.code).toBe(0)

      const status = yield* sandstore("status", "--seeds", `${node.address},${deadSeed}`)
      expect(status.code).toBe(0)
      const lines = status.stdout.split("\n")
      expect(lines[0]).toMatch(/^NODE +ADDRESS +ROLE +TERM +LEADER +COMMIT +APPLIED +LAST +SNAPSHOT$/)
      expect(lines[1]).toMatch(new RegExp(`^n1 +${node.address} +(leader|standalone) +\\d+ +n1 +\\d+ +\\d+ +\\d+ +\\d+$`))
      expect(lines[2]).toMatch(new RegExp(`^- +${deadSeed} +unreachable +cannot reach`))
      expect(status.stdout).toMatch(new RegExp(`\\n  n1 +${node.address} +yes\\n`))

      const json = yield* sandstore("status", "--json", "--seeds", node.address)
      expect(json.code).toBe(0)
      const answers = JSON.parse(json.stdout) as Array<{ seed: string; topology: Topology }>
      expect(answers).toHaveLength(1)
      expect(answers[0]!.seed).toBe(node.address)
      expect(answers[0]!.topology.self.node.id).toBe("n1")

      const dead = yield* sandstore("status", "--seeds", deadSeed)
      expect(dead.code).toBe(1)
      expect(dead.stdout).toContain("unreachable")
      expect(dead.stderr).toBe(`sandstore: no node reachable among ${deadSeed}\n`)
    }))
})
