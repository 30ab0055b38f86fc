/**
 * A schema checked where values come in, and trusted where they go out. Decoding validates
 * everything, as `schema` does; encoding hands the value on unchanged. For messages whose
 * encoded form is the value itself (no transformation anywhere in the schema) that the sending
 * process built and typed itself: validating them on the way out as well checked every Raft
 * message and client request twice, a tenth of a node's CPU under load. The receiving side
 * still refuses whatever does not decode.
 *
 * A schema with a transformation (a class, a default, a string-encoded number) is returned as
 * it is: its encoding does real work.
 */
import { Option, ParseResult, Schema, SchemaAST } from "effect"

/** Whether encoding `ast` may change a value (conservative: a lazy schema is assumed to). */
export const transforms = (ast: SchemaAST.AST): boolean => {
  switch (ast._tag) {
    case "Transformation":
    case "Suspend":
      return true
    case "Refinement":
      return transforms(ast.from)
    case "TypeLiteral":
      return ast.propertySignatures.some((property) => transforms(property.type)) ||
        ast.indexSignatures.some((index) => transforms(index.type))
    case "Union":
      return ast.types.some(transforms)
    case "TupleType":
      return ast.elements.some((element) => transforms(element.type)) || ast.rest.some((rest) => transforms(rest.type))
    case "Declaration":
      // Values of their own kind (Uint8ArrayFromSelf and the like) pass through as they are.
      return ast.typeParameters.some(transforms)
    default:
      return false
  }
}

export const checkedOnDecode = <A, I>(schema: Schema.Schema<A, I>): Schema.Schema<A, I> => {
  if (transforms(schema.ast)) return schema
  const decode = ParseResult.decodeUnknown(schema)
  return Schema.declare<A, I, readonly []>([], {
    decode: () => (input, options) => decode(input, options),
    encode: () => (input) => ParseResult.succeed(input as I)
  }, { identifier: Option.getOrElse(SchemaAST.getIdentifierAnnotation(schema.ast), () => "CheckedOnDecode") })
}
