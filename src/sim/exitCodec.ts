/**
 * How the simulated network carries an rpc's Exit: as @effect/rpc does, through
 * `Rpc.exitSchema`, except that a success goes through the success Schema alone. Its encoded
 * form is what the Exit schema makes of it (`{ _tag: "Success", value }`), and the value is
 * decoded, and so checked, as on the wire; what is left out is the Exit union's own parsing
 * around it, about half of the Schema work of a reply (a simulation's profile: 576 → 299 ms).
 * Failures take the whole Exit schema (their causes and typed errors are its real work).
 */
import { Rpc } from "@effect/rpc"
import { Exit, Schema } from "effect"

export interface ExitCodec {
  readonly encode: (exit: Exit.Exit<unknown, unknown>) => unknown
  readonly decode: (encoded: unknown) => Exit.Exit<unknown, unknown>
}

const isEncodedSuccess = (encoded: unknown): encoded is { readonly _tag: "Success"; readonly value: unknown } =>
  typeof encoded === "object" && encoded !== null && (encoded as { _tag?: unknown })._tag === "Success" && "value" in encoded

// Built once per rpc: every simulated client and server of a run asks for the same ones.
const codecs = new WeakMap<Rpc.AnyWithProps, ExitCodec>()

export const exitCodec = (rpc: Rpc.AnyWithProps): ExitCodec => {
  const known = codecs.get(rpc)
  if (known !== undefined) return known
  const exitSchema = Rpc.exitSchema(rpc as unknown as Rpc.Any) as unknown as Schema.Schema<Exit.Exit<unknown, unknown>, unknown>
  const encodeExit = Schema.encodeUnknownSync(exitSchema)
  const decodeExit = Schema.decodeUnknownSync(exitSchema)
  const success = rpc.successSchema as Schema.Schema<unknown, unknown>
  const encodeValue = Schema.encodeUnknownSync(success)
  const decodeValue = Schema.decodeUnknownSync(success)
  const codec: ExitCodec = {
    encode: (exit) => (Exit.isSuccess(exit) ? { _tag: "Success", value: encodeValue(exit.value) } : encodeExit(exit)),
    decode: (encoded) => (isEncodedSuccess(encoded) ? Exit.succeed(decodeValue(encoded.value)) : decodeExit(encoded))
  }
  codecs.set(rpc, codec)
  return codec
}
