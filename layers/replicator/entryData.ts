/**
 * The bytes a metadata command travels and is stored as inside a Raft entry: the
 * Schema-encoded LogEntry as msgpack. Decoding goes through the Schema, so bytes that do not
 * decode are `Corruption`, never a crash. A leader's no-op entry carries no bytes and applies
 * as the Noop command, so the state machine's applied index moves past it.
 *
 * The node that encoded an entry (the leader that proposed it) remembers the LogEntry its
 * bytes came from, so applying its own entries does not unpack and validate them a second
 * time: the Schema checks a command once, where it enters the node.
 */
import { Either, ParseResult, Schema } from "effect"
import { Packr } from "msgpackr"
import { LogEntry } from "../../src/domain/commands.ts"
import { Corruption, InvalidArgument } from "../../src/domain/errors.ts"
import type { Entry } from "../../src/raft/types.ts"

// Maps, not records: an entry decodes on its own, on any node, without shared structures.
const packr = new Packr({ useRecords: false, int64AsType: "number" })
const encodeLogEntry = Schema.encodeEither(LogEntry)
const decodeLogEntry = Schema.decodeUnknownEither(LogEntry)

const noop: LogEntry = { request: null, command: { _tag: "Noop" } }

/** A string msgpack would not carry as it is: a lone surrogate comes back as U+FFFD. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/

/** The first string in `value` that would not come back from msgpack unchanged, if any. */
const illFormedString = (value: unknown): string | undefined => {
  if (typeof value === "string") return LONE_SURROGATE.test(value) ? value : undefined
  if (Array.isArray(value)) {
    for (const item of value) {
      const found = illFormedString(item)
      if (found !== undefined) return found
    }
  } else if (value !== null && typeof value === "object" && !(value instanceof Uint8Array)) {
    for (const key in value) {
      const found = illFormedString((value as Record<string, unknown>)[key])
      if (found !== undefined) return found
    }
  }
  return undefined
}

export interface EntryCodec {
  /** The entry's bytes; encoding checks it against the schema, so an invalid command is refused here. */
  readonly encode: (entry: LogEntry) => Either.Either<Uint8Array, InvalidArgument>
  /** The LogEntry that the committed `entry` applies. */
  readonly decode: (entry: Entry) => Either.Either<LogEntry, Corruption>
}

/**
 * One replicator's codec. It remembers the LogEntry behind the bytes it encoded while they are
 * alive (in the log, in flight): per node, so nodes sharing a process (tests, the simulation)
 * still decode what they receive. What it remembers is what every other node decodes: a
 * command msgpack would not carry unchanged (a string with a lone surrogate) is refused.
 */
export const makeEntryCodec = (): EntryCodec => {
  const encodedHere = new WeakMap<Uint8Array, LogEntry>()
  return {
    encode: (entry) => {
      const fields = encodeLogEntry(entry)
      if (Either.isLeft(fields)) {
        return Either.left(new InvalidArgument({ message: `invalid metadata command: ${ParseResult.TreeFormatter.formatErrorSync(fields.left)}` }))
      }
      const bad = illFormedString(fields.right)
      if (bad !== undefined) {
        return Either.left(new InvalidArgument({ message: `invalid metadata command: ${JSON.stringify(bad)} is not well-formed Unicode` }))
      }
      const data = packr.pack(fields.right)
      encodedHere.set(data, entry)
      return Either.right(data)
    },
    decode: (entry) => {
      const known = encodedHere.get(entry.data)
      return known !== undefined ? Either.right(known) : decodeEntryData(entry)
    }
  }
}

/** The LogEntry that the committed `entry` applies, from its bytes. */
export const decodeEntryData = (entry: Entry): Either.Either<LogEntry, Corruption> => {
  if (entry.type === "noop") return Either.right(noop)
  const corrupt = (why: string) =>
    new Corruption({ message: `Raft entry ${entry.index} (term ${entry.term}) does not decode: ${why}` })
  let fields: unknown
  try {
    fields = packr.unpack(entry.data)
  } catch (cause) {
    return Either.left(corrupt(`not msgpack (${String(cause)})`))
  }
  return decodeLogEntry(fields).pipe(
    Either.mapLeft((error) => corrupt(ParseResult.TreeFormatter.formatErrorSync(error)))
  )
}
