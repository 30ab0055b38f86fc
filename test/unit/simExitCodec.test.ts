/**
 * The simulated network's Exit codec (src/sim/exitCodec.ts) carries every Exit as the rpc's
 * Exit schema does: the same encoded form, the same value back, and a success that breaks its
 * Schema refused on decode.
 */
import { Rpc } from "@effect/rpc"
import { describe, expect, it } from "vitest"
import { Cause, Exit, Schema } from "effect"
import { NotFound } from "../../src/domain/errors.ts"
import { exitCodec } from "../../src/sim/exitCodec.ts"

const Lookup = Rpc.make("Lookup", {
  payload: { path: Schema.String },
  success: Schema.Struct({ inode: Schema.Number, name: Schema.String }),
  error: NotFound
})

const full = Rpc.exitSchema(Lookup as unknown as Rpc.Any) as unknown as Schema.Schema<Exit.Exit<unknown, unknown>, unknown>
const encodeFull = Schema.encodeUnknownSync(full)
const codec = exitCodec(Lookup as unknown as Rpc.AnyWithProps)

describe("simulated exit codec", () => {
  it("encodes as the Exit schema does and decodes back to the same outcome", () => {
    const success = Exit.succeed({ inode: 7, name: "a" })
    expect(codec.encode(success)).toEqual(encodeFull(success))
    expect(codec.decode(codec.encode(success))).toEqual(success)

    const failure = Exit.fail(new NotFound({ message: "no entry a", path: "/a" }))
    expect(codec.encode(failure)).toEqual(encodeFull(failure))
    const error = Cause.squash((codec.decode(codec.encode(failure)) as Exit.Failure<unknown, unknown>).cause)
    expect(error).toBeInstanceOf(NotFound)
    expect(error).toMatchObject({ message: "no entry a", path: "/a" })

    const defect = Exit.die(new Error("boom"))
    expect(codec.encode(defect)).toEqual(encodeFull(defect))
    expect(Exit.isFailure(codec.decode(codec.encode(defect)))).toBe(true)
  })

  it("refuses a success value that breaks the success Schema", () => {
    expect(() => codec.decode({ _tag: "Success", value: { inode: "7", name: "a" } })).toThrow()
    expect(() => codec.decode({ _tag: "Success", value: { inode: 7 } })).toThrow()
  })

  it("is built once per rpc", () => {
    expect(exitCodec(Lookup as unknown as Rpc.AnyWithProps)).toBe(codec)
  })
})
