/**
 * `sandstore rebuild --data-dir DIR`: prepares a stopped node whose write-ahead log or metadata
 * store is damaged to be rebuilt from its peers. It moves DIR/wal and DIR/metadata aside into
 * DIR/damaged-<timestamp>/ (kept for inspection, never deleted) and writes the marker
 * DIR/REBUILDING. Chunks stay: versions are immutable, and the collector reconciles them with
 * the metadata the node gets back from the leader.
 *
 * The marker matters: a wiped node has forgotten whom it voted for, so the Raft layer keeps it
 * out of elections while the marker exists and removes it once the node has caught up from a
 * leader (see layers/replicator/raft.ts and docs/operations.md).
 */
import { Command, Options } from "@effect/cli"
import { FileSystem, Path } from "@effect/platform"
import { Console, DateTime, Effect } from "effect"
import { REBUILD_MARKER } from "../../layers/replicator/raft.ts"
import { InvalidArgument } from "../domain/errors.ts"

/** "a", "a and b", "a, b and c". */
const listed = (items: ReadonlyArray<string>): string =>
  items.length <= 1 ? items.join("") : `${items.slice(0, -1).join(", ")} and ${items[items.length - 1]}`

/** What a node keeps in its data dir that a rebuild replaces; chunks are not among them. */
export const REBUILT_PARTS = ["wal", "metadata", "snapshots"] as const

/** `damaged-20250102T030405.678Z`: sorts by time, no characters that need quoting. */
export const damagedDirName = (now: DateTime.Utc): string =>
  `damaged-${DateTime.formatIso(now).replace(/[-:]/g, "")}`

export interface RebuildReport {
  /** Where the damaged parts went. */
  readonly damagedDir: string
  /** The parts moved, e.g. ["wal", "metadata"] (none if the node had neither). */
  readonly moved: ReadonlyArray<string>
  readonly marker: string
}

/** Make a file or directory's creation, rename or deletion durable: fsync it. */
const syncPath = (fs: FileSystem.FileSystem, path: string) =>
  Effect.scoped(Effect.flatMap(fs.open(path, { flag: "r" }), (file) => file.sync))

/** Move the node's log and store aside and leave the marker; the node must be stopped. */
export const prepareRebuild = (dataDir: string) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const dir = path.resolve(dataDir)
    if (!(yield* fs.exists(dir))) {
      return yield* new InvalidArgument({ message: `data dir ${dir} does not exist` })
    }
    const damagedDir = path.join(dir, damagedDirName(yield* DateTime.now))
    if (yield* fs.exists(damagedDir)) {
      return yield* new InvalidArgument({ message: `${damagedDir} already exists; run the command again` })
    }
    const present: Array<string> = []
    for (const part of REBUILT_PARTS) if (yield* fs.exists(path.join(dir, part))) present.push(part)
    yield* fs.makeDirectory(damagedDir)
    for (const part of present) yield* fs.rename(path.join(dir, part), path.join(damagedDir, part))
    // The marker must be on disk before the node can start without its log: else it could vote.
    const marker = path.join(dir, REBUILD_MARKER)
    yield* fs.writeFileString(marker, `rebuilding from peers; damaged parts in ${damagedDir}\n`)
    yield* syncPath(fs, marker)
    yield* syncPath(fs, damagedDir)
    yield* syncPath(fs, dir)
    const report: RebuildReport = { damagedDir, moved: present, marker }
    return report
  })

/** What the command prints. */
export const rebuildLines = (dataDir: string, report: RebuildReport): Array<string> => [
  report.moved.length === 0
    ? `no wal or metadata in ${dataDir}: nothing to move (${report.damagedDir} is empty)`
    : `moved ${listed(report.moved)} of ${dataDir} to ${report.damagedDir}`,
  `wrote ${report.marker}: the node will not vote until it has caught up from the leader`,
  "chunks were kept (the chunk collector reconciles them with the metadata)",
  "next: start the node again with the same flags as before (sandstore node --id ... --data-dir " + dataDir + " ...);",
  "it rejoins and catches up from the leader; `sandstore status` shows it once its APPLIED matches the leader's COMMIT,",
  `and ${report.marker} disappears. Delete ${report.damagedDir} when you no longer need it.`
]

const dataDir = Options.text("data-dir").pipe(Options.withDescription("the stopped node's data directory"))

export const rebuildCommand = Command.make("rebuild", { dataDir }, ({ dataDir }) =>
  Effect.gen(function*() {
    const report = yield* prepareRebuild(dataDir)
    yield* Console.log(rebuildLines(dataDir, report).join("\n"))
  })
).pipe(Command.withDescription(
  "prepare a STOPPED node with a damaged log or store to be rebuilt from its peers: move wal/ and metadata/ aside, mark it rebuilding"
))
