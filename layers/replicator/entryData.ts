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
import { Corruption } from "../../src/domain/errors.ts"
import type { Entry } from "../../src/raft/types.ts"

// Maps, not records: an entry decodes on its own, on any node, without shared structures.
const packr = new Packr({ useRecords: false, int64AsType: "number" })
const encodeLogEntry = Schema.encodeEither(LogEntry)
const decodeLogEntry = Schema.decodeUnknownEither(LogEntry)

const noop: LogEntry = { request: null, command: { _tag: "Noop" } }

/** The LogEntry that bytes encoded here came from, while the bytes are alive (in the log, in flight). */
const encodedHere = new WeakMap<Uint8Array, LogEntry>()

/** The entry's bytes; encoding checks it against the schema, so an invalid command is refused here. */
export const encodeEntryData = (entry: LogEntry): Either.Either<Uint8Array, ParseResult.ParseError> =>
  Either.map(encodeLogEntry(entry), (fields) => {
    const data = packr.pack(fields)
    encodedHere.set(data, entry)
    return data
  })

/** The LogEntry that the committed `entry` applies. */
export const decodeEntryData = (entry: Entry): Either.Either<LogEntry, Corruption> => {
  if (entry.type === "noop") return Either.right(noop)
  const known = encodedHere.get(entry.data)
  if (known !== undefined) return Either.right(known)
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
