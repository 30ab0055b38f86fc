import { describe, expect, it } from "@effect/vitest"
import { Either, Schema } from "effect"
import { checkedOnDecode, transforms } from "../../src/lib/checkedOnDecode.ts"

const Entry = Schema.Struct({
  index: Schema.NonNegativeInt,
  kind: Schema.Literal("normal", "noop"),
  data: Schema.Uint8ArrayFromSelf,
  tags: Schema.Array(Schema.String)
})

describe("checkedOnDecode", () => {
  it("decodes exactly as the schema does: valid input passes, invalid input is refused", () => {
    const checked = checkedOnDecode(Entry)
    const valid = { index: 3, kind: "noop", data: new Uint8Array([1]), tags: ["a"] }
    expect(Schema.decodeUnknownSync(checked)(valid)).toEqual(valid)
    for (const invalid of [{ ...valid, index: -1 }, { ...valid, kind: "other" }, { ...valid, data: [1] }, { ...valid, tags: [1] }, null]) {
      expect(Either.isLeft(Schema.decodeUnknownEither(checked)(invalid))).toBe(true)
      expect(Either.isLeft(Schema.decodeUnknownEither(Entry)(invalid))).toBe(true)
    }
  })

  it("encodes a value as itself, without checking it again", () => {
    const value = { index: 1, kind: "normal" as const, data: new Uint8Array([9]), tags: [] }
    expect(Schema.encodeSync(checkedOnDecode(Entry))(value)).toBe(value)
  })

  it("leaves a schema with a transformation as it is: its encoding does work", () => {
    const WithNumberString = Schema.Struct({ n: Schema.NumberFromString })
    const WithDefault = Schema.Struct({ n: Schema.optionalWith(Schema.Number, { default: () => 0 }) })
    class Tagged extends Schema.TaggedError<Tagged>()("Tagged", { message: Schema.String }) {}
    for (const schema of [WithNumberString, WithDefault, Tagged]) {
      expect(transforms(schema.ast)).toBe(true)
      expect(checkedOnDecode(schema as Schema.Schema<unknown, unknown>)).toBe(schema)
    }
    expect(Schema.encodeSync(checkedOnDecode(WithNumberString))({ n: 2 })).toEqual({ n: "2" })
    expect(transforms(Entry.ast)).toBe(false)
  })
})
