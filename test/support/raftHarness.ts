/**
 * A pure in-memory Raft cluster for tests: nodes running the core, a seeded network that can
 * drop, delay, reorder, duplicate and partition, and per-node storage that keeps what was made
 * durable apart from what was only asked to be (an Output waits in a queue, its messages held
 * back, until the harness persists it; a crash loses the queue). The state machine is a list
 * of the applied values, durable with its applied index, as the real one stores it.
 *
 * Every step of every node is checked against Raft's safety properties (election safety, log
 * matching, leader completeness, state-machine safety, read linearizability); a violation
 * throws an Error that names the seed.
 */
import {
  createRaft, entriesAfter, logTerm, raftStatus, type RaftState, type RaftStatus, step
} from "../../src/raft/core.ts"
import { makePrng, nextFloat, nextInt, type Prng } from "../../src/raft/prng.ts"
import { chunkEnd } from "../../src/raft/snapshotTransfer.ts"
import { concatBytes } from "../../src/lib/concatBytes.ts"
import type {
  Entry, HardState, Input, Message, NodeId, Output, ProposalResult, RaftConfig, ReadResult, Snapshot
} from "../../src/raft/types.ts"

export type NodeConfig = Omit<RaftConfig, "id" | "voters" | "seed">

export const defaultNodeConfig: NodeConfig = {
  electionTicks: 10,
  heartbeatTicks: 2,
  maxEntriesPerMessage: 64,
  maxBytesPerMessage: 1 << 20,
  maxInflight: 4,
  snapshotChunkBytes: 1024,
  preVote: true,
  checkQuorum: true
}

export interface NetworkFaults {
  /** Probability that a message is lost. */
  readonly dropRate: number
  /** Probability that a message is delivered twice. */
  readonly duplicateRate: number
  /** Delivery delay in ticks, uniform in [minDelay, maxDelay]: unequal delays reorder. */
  readonly minDelay: number
  readonly maxDelay: number
}

export const reliableNetwork: NetworkFaults = { dropRate: 0, duplicateRate: 0, minDelay: 0, maxDelay: 0 }

export interface ClusterOptions {
  readonly ids: ReadonlyArray<NodeId>
  readonly seed: number
  readonly config?: Partial<NodeConfig>
  /** Compact each node's log once this many entries were applied since its snapshot. */
  readonly snapshotEvery?: number
  /** Persist every Output as soon as it is produced (default true); otherwise call `persist`. */
  readonly autoPersist?: boolean
  readonly network?: NetworkFaults
  /** What some nodes find on disk at the start (hard state and log; nothing applied yet). */
  readonly disks?: Readonly<Record<NodeId, { readonly hardState: HardState; readonly entries: ReadonlyArray<Entry> }>>
}

interface Disk {
  hardState: HardState
  snapshot: Snapshot | null
  entries: Array<Entry>
  /** Snapshot bytes by "index/term": the layer keeps them, the core only their size. */
  files: Map<string, Uint8Array>
}

const fileKey = (snapshot: { readonly index: number; readonly term: number }) => `${snapshot.index}/${snapshot.term}`

/** The replicated state machine: value of each applied entry ("" for no-ops), in index order. */
interface StateMachine {
  appliedIndex: number
  appliedTerm: number
  values: Array<string>
}

export interface SimNode {
  readonly id: NodeId
  /** null while crashed. */
  raft: RaftState | null
  readonly disk: Disk
  readonly stateMachine: StateMachine
  /** Outputs whose writes are not durable yet; their messages wait with them. */
  queue: Array<Output>
  /** Chunks of the snapshot being received (lost in a crash). */
  incoming: Array<Uint8Array>
  restarts: number
  /** Every Output this node produced since its last restart (for assertions). */
  outputs: Array<Output>
}

interface InFlight {
  readonly message: Message
  readonly deliverAt: number
  readonly seq: number
}

const encoder = new TextEncoder()
const decoder = new TextDecoder()

export const valueOf = (entry: Entry): string => entry.type === "noop" ? "" : decoder.decode(entry.data)

const encodeStateMachine = (values: ReadonlyArray<string>): Uint8Array => encoder.encode(JSON.stringify(values))
const decodeStateMachine = (data: Uint8Array): Array<string> => JSON.parse(decoder.decode(data)) as Array<string>

/** Checks Raft's safety properties as the cluster runs. */
class SafetyChecker {
  private readonly leaderOfTerm = new Map<number, NodeId>()
  /** (index, term) -> the entry's value and the term of the entry before it: log matching, incrementally. */
  private readonly entries = new Map<string, { readonly value: string; readonly prevTerm: number }>()
  /** index -> term of the committed entry there, and the lowest term in which a node saw it committed. */
  private readonly committed = new Map<number, { readonly term: number; commitTerm: number }>()
  /** index -> the value applied there by whichever node applied it first. */
  readonly applied = new Map<number, string>()
  private readonly commitSeen = new Map<NodeId, number>()
  private readonly leaderSeen = new Map<NodeId, number>()
  /** The highest commit index any node ever had. */
  maxCommit = 0

  constructor(private readonly fail: (why: string) => never) {}

  afterStep(id: NodeId, raft: RaftState, output: Output): void {
    const status = raftStatus(raft)
    if (status.role === "leader") {
      const other = this.leaderOfTerm.get(status.term)
      if (other !== undefined && other !== id) {
        this.fail(`election safety: ${other} and ${id} are both leaders of term ${status.term}`)
      }
      this.leaderOfTerm.set(status.term, id)
      if (this.leaderSeen.get(id) !== status.term) {
        this.leaderSeen.set(id, status.term)
        this.checkLeaderCompleteness(id, raft, status)
      }
    }
    for (const entry of output.entries) this.checkEntry(id, raft, entry)
    this.checkCommit(id, raft, status)
  }

  private checkEntry(id: NodeId, raft: RaftState, entry: Entry): void {
    const prevTerm = logTerm(raft, entry.index - 1)
    if (prevTerm === undefined) this.fail(`${id} wrote entry ${entry.index} without the entry before it`)
    const key = `${entry.index}:${entry.term}`
    const value = valueOf(entry)
    const known = this.entries.get(key)
    if (known === undefined) {
      this.entries.set(key, { value, prevTerm })
    } else if (known.value !== value || known.prevTerm !== prevTerm) {
      this.fail(
        `log matching: ${id} has entry ${key} = ${JSON.stringify(value)} after term ${prevTerm}, ` +
          `elsewhere ${JSON.stringify(known.value)} after term ${known.prevTerm}`
      )
    }
  }

  private checkCommit(id: NodeId, raft: RaftState, status: RaftStatus): void {
    const seen = this.commitSeen.get(id) ?? 0
    for (let index = Math.max(seen, status.snapshotIndex) + 1; index <= status.commitIndex; index++) {
      const term = logTerm(raft, index)
      if (term === undefined) continue
      const known = this.committed.get(index)
      if (known === undefined) {
        this.committed.set(index, { term, commitTerm: status.term })
      } else if (known.term !== term) {
        this.fail(`${id} committed index ${index} at term ${term}, but term ${known.term} was committed there`)
      } else {
        known.commitTerm = Math.min(known.commitTerm, status.term)
      }
    }
    this.commitSeen.set(id, status.commitIndex)
    this.maxCommit = Math.max(this.maxCommit, status.commitIndex)
  }

  private checkLeaderCompleteness(id: NodeId, raft: RaftState, status: RaftStatus): void {
    for (let index = status.snapshotIndex + 1; index <= this.maxCommit; index++) {
      const known = this.committed.get(index)
      if (known === undefined || known.commitTerm >= status.term) continue
      const term = logTerm(raft, index)
      if (term !== known.term) {
        this.fail(
          `leader completeness: ${id} leads term ${status.term} but has term ${term} at index ${index}, ` +
            `committed at term ${known.term} in term ${known.commitTerm}`
        )
      }
    }
  }

  /** A node (re)started from its disk: it saw nothing yet, and its log is what it recovered. */
  restarted(id: NodeId, raft: RaftState): void {
    this.commitSeen.delete(id)
    this.leaderSeen.delete(id)
    for (const entry of entriesAfter(raft, 0)) this.checkEntry(id, raft, entry)
  }

  checkApply(id: NodeId, index: number, value: string): void {
    const known = this.applied.get(index)
    if (known === undefined) this.applied.set(index, value)
    else if (known !== value) {
      this.fail(`state-machine safety: ${id} applied ${JSON.stringify(value)} at ${index}, another node ${JSON.stringify(known)}`)
    }
  }

  /** The whole in-memory log of a node against what was recorded entry by entry. */
  checkWholeLog(id: NodeId, raft: RaftState): void {
    const status = raftStatus(raft)
    for (const entry of entriesAfter(raft, status.snapshotIndex)) {
      const known = this.entries.get(`${entry.index}:${entry.term}`)
      if (known === undefined) this.fail(`${id} holds entry ${entry.index}:${entry.term} that no Output wrote`)
      if (known.value !== valueOf(entry) || known.prevTerm !== logTerm(raft, entry.index - 1)) {
        this.fail(`log matching: ${id} entry ${entry.index}:${entry.term} differs from the recorded one`)
      }
    }
  }
}

export class Cluster {
  readonly ids: ReadonlyArray<NodeId>
  readonly nodes = new Map<NodeId, SimNode>()
  readonly config: NodeConfig
  readonly seed: number
  readonly checker: SafetyChecker
  network: NetworkFaults
  autoPersist: boolean
  snapshotEvery: number
  /** The current tick. */
  now = 0
  /** Every message the network accepted (before loss), for assertions about traffic. */
  readonly sent: Array<Message> = []
  /** Steps taken by all nodes. */
  steps = 0
  private readonly prng: Prng
  private inFlight: Array<InFlight> = []
  private seq = 0
  private readonly blocked = new Set<string>()
  private readonly filters: Array<(message: Message) => boolean> = []
  private nextRequestId = 1
  /** readId -> the highest commit index any node had when the read was asked. */
  private readonly readFloor = new Map<number, number>()
  readonly proposalResults = new Map<number, ProposalResult>()
  readonly readResults = new Map<number, ReadResult>()
  /** Values a leader acknowledged as committed (it applied them), with their index. */
  readonly acknowledged = new Map<string, number>()

  constructor(options: ClusterOptions) {
    this.ids = options.ids
    this.seed = options.seed
    this.config = { ...defaultNodeConfig, ...options.config }
    this.network = options.network ?? reliableNetwork
    this.autoPersist = options.autoPersist ?? true
    this.snapshotEvery = options.snapshotEvery ?? Infinity
    this.prng = makePrng(options.seed, "harness")
    this.checker = new SafetyChecker((why) => {
      throw new Error(`seed=${this.seed} tick=${this.now}: ${why}\n${this.describe()}`)
    })
    for (const id of this.ids) {
      const node: SimNode = {
        id,
        raft: null,
        disk: {
          hardState: options.disks?.[id]?.hardState ?? { term: 0, votedFor: null, commit: 0 },
          snapshot: null,
          entries: [...(options.disks?.[id]?.entries ?? [])],
          files: new Map()
        },
        incoming: [],
        stateMachine: { appliedIndex: 0, appliedTerm: 0, values: [] },
        queue: [],
        restarts: 0,
        outputs: []
      }
      this.nodes.set(id, node)
      this.boot(node)
    }
  }

  fail(why: string): never {
    throw new Error(`seed=${this.seed} tick=${this.now}: ${why}\n${this.describe()}`)
  }

  node(id: NodeId): SimNode {
    return this.nodes.get(id)!
  }

  raft(id: NodeId): RaftState {
    const raft = this.node(id).raft
    if (raft === null) this.fail(`${id} is down`)
    return raft
  }

  status(id: NodeId): RaftStatus {
    return raftStatus(this.raft(id))
  }

  isUp(id: NodeId): boolean {
    return this.node(id).raft !== null
  }

  /** The live leader of the highest term, if any. */
  leader(): NodeId | null {
    let best: RaftStatus | null = null
    for (const id of this.ids) {
      if (!this.isUp(id)) continue
      const status = this.status(id)
      if (status.role === "leader" && (best === null || status.term > best.term)) best = status
    }
    return best?.id ?? null
  }

  describe(): string {
    return this.ids.map((id) => {
      const node = this.node(id)
      if (node.raft === null) return `  ${id}: down`
      const s = raftStatus(node.raft)
      return `  ${id}: ${s.role} term=${s.term} leader=${s.leaderId} commit=${s.commitIndex} ` +
        `last=${s.lastIndex}/${s.lastTerm} stable=${s.stableIndex} snap=${s.snapshotIndex} applied=${node.stateMachine.appliedIndex}`
    }).join("\n")
  }

  private boot(node: SimNode): void {
    node.raft = createRaft(
      { ...this.config, id: node.id, voters: this.ids, seed: this.seed * 31 + node.restarts },
      { hardState: node.disk.hardState, snapshot: node.disk.snapshot, entries: [...node.disk.entries] },
      node.stateMachine.appliedIndex
    )
    node.queue = []
    node.outputs = []
    this.checker.restarted(node.id, node.raft)
  }

  /** Feed one input to a node; its Output is queued for persistence (and persisted at once under autoPersist). */
  input(id: NodeId, input: Input): Output {
    const node = this.node(id)
    if (node.raft === null) this.fail(`input to ${id}, which is down`)
    const output = step(node.raft, input)
    this.steps++
    node.outputs.push(output)
    this.checker.afterStep(id, node.raft, output)
    for (const result of output.proposals) this.proposalResults.set(result.id, result)
    for (const result of output.reads) this.recordRead(id, result)
    node.queue.push(output)
    if (this.autoPersist) this.persist(id)
    return output
  }

  private recordRead(id: NodeId, result: ReadResult): void {
    this.readResults.set(result.id, result)
    if (result._tag !== "ReadReady") return
    const floor = this.readFloor.get(result.id) ?? 0
    if (result.index < floor) {
      this.fail(`read linearizability: ${id} answered read ${result.id} at ${result.index}, but ${floor} was committed before it was asked`)
    }
    const commit = this.status(id).commitIndex
    if (result.index > commit) this.fail(`${id} answered read ${result.id} at ${result.index} above its commit ${commit}`)
  }

  /** Make up to `count` queued Outputs of a node durable, in order: write, send, apply, report back. */
  persist(id: NodeId, count = Infinity): void {
    const node = this.node(id)
    let done = 0
    while (node.raft !== null && node.queue.length > 0 && done < count) {
      const output = node.queue.shift()!
      done++
      this.write(node, output)
      for (const message of output.messages) this.send(this.withBytes(node, message))
      const appliedBefore = node.stateMachine.appliedIndex
      if (output.snapshot !== null) this.restoreStateMachine(node, output.snapshot)
      for (const entry of output.committed) this.apply(node, entry)
      const last = output.entries[output.entries.length - 1]
      if (last !== undefined) this.input(id, { _tag: "Persisted", index: last.index, term: last.term })
      if (node.raft !== null && node.stateMachine.appliedIndex > appliedBefore) {
        this.input(id, { _tag: "Applied", index: node.stateMachine.appliedIndex })
        this.maybeCompact(node)
      }
    }
  }

  private write(node: SimNode, output: Output): void {
    const disk = node.disk
    if (output.hardState !== null) disk.hardState = output.hardState
    for (const chunk of output.snapshotChunks) {
      if (chunk.offset === 0) node.incoming = []
      const received = node.incoming.reduce((sum, part) => sum + part.byteLength, 0)
      if (chunk.offset !== received) this.fail(`${node.id} was handed chunk ${chunk.offset} after ${received} bytes`)
      node.incoming.push(chunk.data.slice())
      if (!chunk.last) continue
      // As the layer does: the chunk that completes a snapshot keeps it (installed) or drops it.
      const bytes = concatBytes(node.incoming)
      node.incoming = []
      if (bytes.byteLength !== chunk.totalBytes) this.fail(`${node.id} completed a ${chunk.totalBytes}-byte snapshot with ${bytes.byteLength} bytes`)
      if (chunk.install) disk.files.set(fileKey(chunk), bytes)
    }
    if (output.snapshot !== null) {
      if (!disk.files.has(fileKey(output.snapshot))) this.fail(`${node.id} installed snapshot ${fileKey(output.snapshot)} without its bytes`)
      disk.snapshot = output.snapshot
      disk.entries = []
    }
    if (output.entries.length > 0) {
      const from = output.entries[0]!.index
      disk.entries = disk.entries.filter((entry) => entry.index < from).concat(output.entries)
    }
  }

  /** An InstallSnapshot as the core emits it gets its chunk's bytes from the node's snapshot files. */
  private withBytes(node: SimNode, message: Message): Message {
    if (message._tag !== "InstallSnapshot" || message.data.byteLength > 0 || message.offset >= message.totalBytes) return message
    const bytes = node.disk.files.get(fileKey({ index: message.snapshotIndex, term: message.snapshotTerm }))
    if (bytes === undefined) this.fail(`${node.id} sends snapshot ${message.snapshotIndex}/${message.snapshotTerm}, which it does not hold`)
    return { ...message, data: bytes.subarray(message.offset, chunkEnd(message.offset, message.totalBytes, this.config.snapshotChunkBytes)) }
  }

  private restoreStateMachine(node: SimNode, snapshot: Snapshot): void {
    const bytes = node.disk.files.get(fileKey(snapshot))
    if (bytes === undefined) this.fail(`${node.id} restores snapshot ${fileKey(snapshot)}, which it does not hold`)
    const values = decodeStateMachine(bytes)
    if (values.length !== snapshot.index) this.fail(`${node.id} got a snapshot of ${values.length} values at index ${snapshot.index}`)
    values.forEach((value, k) => this.checker.checkApply(node.id, k + 1, value))
    node.stateMachine.values = values
    node.stateMachine.appliedIndex = snapshot.index
    node.stateMachine.appliedTerm = snapshot.term
  }

  private apply(node: SimNode, entry: Entry): void {
    const sm = node.stateMachine
    if (entry.index !== sm.appliedIndex + 1) {
      this.fail(`${node.id} was asked to apply ${entry.index} after applying ${sm.appliedIndex}`)
    }
    const value = valueOf(entry)
    this.checker.checkApply(node.id, entry.index, value)
    sm.values.push(value)
    sm.appliedIndex = entry.index
    sm.appliedTerm = entry.term
    const raft = node.raft!
    if (value !== "" && raftStatus(raft).role === "leader") this.acknowledged.set(value, entry.index)
  }

  private maybeCompact(node: SimNode): void {
    const raft = node.raft!
    const sm = node.stateMachine
    if (sm.appliedIndex - raftStatus(raft).snapshotIndex < this.snapshotEvery) return
    this.compact(node.id)
  }

  /** Snapshot a node's state machine and compact its log behind it. */
  compact(id: NodeId): Snapshot {
    const node = this.node(id)
    const sm = node.stateMachine
    const bytes = encodeStateMachine(sm.values)
    const snapshot: Snapshot = { index: sm.appliedIndex, term: sm.appliedTerm, size: bytes.byteLength }
    node.disk.files.set(fileKey(snapshot), bytes)
    node.disk.snapshot = snapshot
    node.disk.entries = node.disk.entries.filter((entry) => entry.index > snapshot.index)
    this.input(id, { _tag: "Compact", index: snapshot.index, term: snapshot.term })
    this.input(id, { _tag: "OfferSnapshot", snapshot })
    return snapshot
  }

  private send(message: Message): void {
    this.sent.push(message)
    if (this.filters.some((drop) => drop(message))) return
    if (nextFloat(this.prng) < this.network.dropRate) return
    const copies = nextFloat(this.prng) < this.network.duplicateRate ? 2 : 1
    for (let k = 0; k < copies; k++) {
      const spread = this.network.maxDelay - this.network.minDelay + 1
      const deliverAt = this.now + this.network.minDelay + nextInt(this.prng, spread)
      this.inFlight.push({ message, deliverAt, seq: this.seq++ })
    }
  }

  /** Drop every message for which `drop` is true until the returned function is called. */
  addFilter(drop: (message: Message) => boolean): () => void {
    this.filters.push(drop)
    return () => {
      const at = this.filters.indexOf(drop)
      if (at >= 0) this.filters.splice(at, 1)
    }
  }

  /** Cut the links between groups (nodes in no group are cut off from everyone). */
  partition(...groups: ReadonlyArray<ReadonlyArray<NodeId>>): void {
    this.blocked.clear()
    const groupOf = new Map<NodeId, number>()
    groups.forEach((group, k) => group.forEach((id) => groupOf.set(id, k)))
    for (const a of this.ids) {
      for (const b of this.ids) {
        if (a !== b && (groupOf.get(a) === undefined || groupOf.get(a) !== groupOf.get(b))) this.blocked.add(`${a}>${b}`)
      }
    }
  }

  isolate(id: NodeId): void {
    this.partition(this.ids.filter((other) => other !== id), [id])
  }

  heal(): void {
    this.blocked.clear()
  }

  pendingMessages(): number {
    return this.inFlight.length
  }

  /** Deliver the messages due by now, in delivery order; returns how many were delivered. */
  deliverDue(): number {
    const due = this.inFlight.filter((flight) => flight.deliverAt <= this.now)
      .sort((a, b) => a.deliverAt - b.deliverAt || a.seq - b.seq)
    this.inFlight = this.inFlight.filter((flight) => flight.deliverAt > this.now)
    for (const { message } of due) this.deliver(message)
    return due.length
  }

  private deliver(message: Message): void {
    if (this.blocked.has(`${message.from}>${message.to}`)) return
    if (!this.isUp(message.to)) return
    this.input(message.to, { _tag: "Receive", message })
  }

  /** Deliver until the network is quiet (with a reliable network and auto-persistence, a round of consequences). */
  settle(maxRounds = 1000): void {
    for (let round = 0; round < maxRounds; round++) {
      if (this.inFlight.length === 0) return
      const earliest = Math.min(...this.inFlight.map((flight) => flight.deliverAt))
      if (earliest > this.now) this.now = earliest
      this.deliverDue()
    }
    this.fail(`network did not settle in ${maxRounds} rounds`)
  }

  /** Discard everything in flight (a scenario wants a clean slate). */
  dropInFlight(): void {
    this.inFlight = []
  }

  tick(id: NodeId): Output {
    return this.input(id, { _tag: "Tick" })
  }

  /** One tick of the clock on every live node, then deliver what came due. */
  tickAll(): void {
    this.now++
    for (const id of this.ids) if (this.isUp(id)) this.tick(id)
    this.deliverDue()
  }

  /**
   * Tick everyone until `done` holds; fails after `maxTicks`. Under auto-persistence the
   * network settles after each tick; otherwise the caller persists (see `persist`).
   */
  runUntil(done: () => boolean, maxTicks: number, what = "condition"): void {
    for (let k = 0; k < maxTicks; k++) {
      if (done()) return
      this.tickAll()
      if (this.autoPersist) this.settle()
    }
    if (!done()) this.fail(`${what} not reached within ${maxTicks} ticks`)
  }

  /**
   * Tick only `id` (the others stay quiet, so it campaigns first), settling after each tick,
   * until it wins; fails if it has not within 20 election timeouts.
   */
  elect(id: NodeId): void {
    for (let k = 0; k < 20 * this.config.electionTicks && this.status(id).role !== "leader"; k++) {
      this.tick(id)
      this.settle()
    }
    if (this.status(id).role !== "leader") this.fail(`${id} did not win an election`)
  }

  /** Let the leader send a round of heartbeats and settle. */
  heartbeat(id: NodeId): void {
    for (let k = 0; k < this.config.heartbeatTicks; k++) this.tick(id)
    this.settle()
  }

  propose(id: NodeId, value: string): ProposalResult {
    const requestId = this.nextRequestId++
    const output = this.input(id, { _tag: "Propose", id: requestId, data: [encoder.encode(value)] })
    return output.proposals.find((result) => result.id === requestId)!
  }

  /** Ask `id` for a read index; the answer lands in `readResults` (now or later). */
  read(id: NodeId): number {
    const requestId = this.nextRequestId++
    this.readFloor.set(requestId, this.checker.maxCommit)
    this.input(id, { _tag: "ReadIndex", ids: [requestId] })
    return requestId
  }

  crash(id: NodeId): void {
    const node = this.node(id)
    node.raft = null
    node.queue = []
    node.incoming = []
  }

  restart(id: NodeId): void {
    const node = this.node(id)
    node.restarts++
    this.boot(node)
  }

  /** Values in a node's log, from the first uncompacted entry on. */
  logValues(id: NodeId): Array<string> {
    const raft = this.raft(id)
    return entriesAfter(raft, 0).map(valueOf)
  }

  /** Every node's whole log against what the checker recorded. */
  checkAllLogs(): void {
    for (const id of this.ids) {
      const raft = this.node(id).raft
      if (raft !== null) this.checker.checkWholeLog(id, raft)
    }
  }
}
