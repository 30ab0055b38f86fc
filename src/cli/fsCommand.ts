/**
 * `sandstore fs CMD`: filesystem commands against a cluster. Every subcommand takes --seeds
 * (default 127.0.0.1:9001, or SANDSTORE_SEEDS) and runs with a client connected to them.
 */
import { Args, Command, Options } from "@effect/cli"
import { Console, Effect, Layer, Option } from "effect"
import { TcpCommunicator } from "../../layers/transport/tcp.ts"
import { SandstoreClient } from "../client/SandstoreClient.ts"
import { join as remoteJoin } from "../client/paths.ts"
import { InvalidArgument } from "../domain/errors.ts"
import { longListingLine, statLines } from "./format.ts"
import { cat, get, put } from "./transfer.ts"
import { seedsOption } from "./seedsOption.ts"

const seeds = seedsOption()

const remotePath = (name: string) => Args.text({ name })

/** Runs `effect` with a client of `seedList`, closed (handles flushed) when it ends. */
const withClient = <A, E, R>(seedList: string, effect: Effect.Effect<A, E, R>) =>
  effect.pipe(
    Effect.provide(
      SandstoreClient.layer({ seeds: seedList.split(",").map((seed) => seed.trim()) }).pipe(
        Layer.provide(TcpCommunicator)
      )
    )
  )

const ls = Command.make(
  "ls",
  { seeds, long: Options.boolean("l").pipe(Options.withDescription("long listing")), path: remotePath("PATH").pipe(Args.withDefault("/")) },
  ({ long, path, seeds }) =>
    withClient(seeds, Effect.gen(function*() {
      const client = yield* SandstoreClient
      const stats = yield* client.stat(path)
      const entries = stats.isDirectory()
        ? (yield* client.readdir(path, { withFileTypes: true })).map((entry) => ({ name: entry.name, stats: entry.stats }))
        : [{ name: path, stats }]
      const sorted = [...entries].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
      const sizeWidth = Math.max(1, ...sorted.map((entry) => String(entry.stats.size).length))
      for (const entry of sorted) {
        yield* Console.log(long ? longListingLine(entry.name, entry.stats, sizeWidth) : entry.name)
      }
    }))
).pipe(Command.withDescription("list a directory"))

const stat = Command.make("stat", { seeds, path: remotePath("PATH") }, ({ path, seeds }) =>
  withClient(seeds, Effect.gen(function*() {
    const client = yield* SandstoreClient
    const stats = yield* client.stat(path)
    yield* Console.log(statLines(path, stats).join("\n"))
  }))).pipe(Command.withDescription("show a file's or directory's attributes"))

const mkdir = Command.make(
  "mkdir",
  { seeds, parents: Options.boolean("p").pipe(Options.withDescription("create missing parents; no error if it exists")), path: remotePath("PATH") },
  ({ parents, path, seeds }) =>
    withClient(seeds, Effect.flatMap(SandstoreClient, (client) => client.mkdir(path, { recursive: parents })))
).pipe(Command.withDescription("create a directory"))

const offsetOption = (description: string) =>
  Options.integer("offset").pipe(Options.withDescription(description), Options.optional)

/** A non-negative byte count from an optional option, or InvalidArgument naming it. */
const byteCount = (name: string, value: Option.Option<number>, path: string) =>
  Option.match(value, {
    onNone: () => Effect.succeed(undefined),
    onSome: (n) =>
      n >= 0 ? Effect.succeed(n) : Effect.fail(new InvalidArgument({ message: `--${name} must be non-negative, got ${n}`, path }))
  })

const putCommand = Command.make(
  "put",
  {
    seeds,
    offset: offsetOption("write LOCAL's bytes at this offset of REMOTE instead of replacing it (a gap reads as zeros)"),
    local: Args.text({ name: "LOCAL" }),
    remote: remotePath("REMOTE")
  },
  ({ local, offset, remote, seeds }) =>
    withClient(seeds, Effect.flatMap(byteCount("offset", offset, remote), (at) => put(local, remote, at)))
).pipe(Command.withDescription("upload a local file (replacing REMOTE, or into it at --offset)"))

const getCommand = Command.make(
  "get",
  { seeds, remote: remotePath("REMOTE"), local: Args.text({ name: "LOCAL" }) },
  ({ local, remote, seeds }) => withClient(seeds, get(remote, local))
).pipe(Command.withDescription("download a file (written to LOCAL.tmp, then renamed)"))

const catCommand = Command.make(
  "cat",
  {
    seeds,
    offset: offsetOption("start at this byte"),
    length: Options.integer("length").pipe(Options.withDescription("write at most this many bytes"), Options.optional),
    path: remotePath("PATH")
  },
  ({ length, offset, path, seeds }) =>
    withClient(seeds, Effect.gen(function*() {
      const from = yield* byteCount("offset", offset, path)
      const count = yield* byteCount("length", length, path)
      yield* cat(path, from, count)
    }))
).pipe(Command.withDescription("write a file (or --offset/--length of it) to stdout"))

const rm = Command.make("rm", { seeds, path: remotePath("PATH") }, ({ path, seeds }) =>
  withClient(seeds, Effect.flatMap(SandstoreClient, (client) => client.unlink(path)))).pipe(
    Command.withDescription("remove a file")
  )

const rmdir = Command.make("rmdir", { seeds, path: remotePath("PATH") }, ({ path, seeds }) =>
  withClient(seeds, Effect.flatMap(SandstoreClient, (client) => client.rmdir(path)))).pipe(
    Command.withDescription("remove an empty directory")
  )

const mv = Command.make("mv", { seeds, source: remotePath("SRC"), target: remotePath("DST") }, ({ seeds, source, target }) =>
  withClient(seeds, Effect.gen(function*() {
    const client = yield* SandstoreClient
    // Like mv(1): into an existing directory, under the same name.
    const existing = yield* Effect.option(client.stat(target))
    const name = source.split("/").filter((part) => part !== "").pop() ?? ""
    const destination = existing._tag === "Some" && existing.value.isDirectory() && name !== ""
      ? remoteJoin(target, name)
      : target
    yield* client.rename(source, destination)
  }))).pipe(Command.withDescription("rename or move a file or directory"))

const truncate = Command.make(
  "truncate",
  { seeds, path: remotePath("PATH"), size: Args.integer({ name: "SIZE" }) },
  ({ path, seeds, size }) =>
    withClient(
      seeds,
      size < 0
        ? Effect.fail(new InvalidArgument({ message: `size must be non-negative, got ${size}`, path }))
        : Effect.flatMap(SandstoreClient, (client) => client.truncate(path, size))
    )
).pipe(Command.withDescription("shrink or extend a file to SIZE bytes"))

export const fsCommand = Command.make("fs").pipe(
  Command.withDescription("filesystem commands against a cluster"),
  Command.withSubcommands([ls, stat, mkdir, putCommand, getCommand, catCommand, rm, rmdir, mv, truncate])
)
