/**
 * An rpc's payload schema without a constructor. @effect/rpc's client passes a payload through
 * its schema's `make` (a full validation) and then encodes it through the same schema (another
 * one); a schema without `make` is checked once, when it is encoded, and again by the node
 * that decodes it. Same checks and the same bytes. Payloads that encode as themselves are
 * checked only by the node that decodes them (checkedOnDecode.ts).
 */
import { Schema } from "effect"
import { checkedOnDecode } from "../lib/checkedOnDecode.ts"

export const payload = <Fields extends Schema.Struct.Fields>(
  fields: Fields
): Schema.Schema<Schema.Struct.Type<Fields>, Schema.Struct.Encoded<Fields>, Schema.Struct.Context<Fields>> =>
  checkedOnDecode(Schema.make(Schema.Struct(fields).ast) as Schema.Schema<Schema.Struct.Type<Fields>, Schema.Struct.Encoded<Fields>>)
