import { describe, expect, it } from "@effect/vitest"
import { Effect, Either } from "effect"
import * as fc from "fast-check"
import { components, join, normalize, parentAndName } from "../../src/client/paths.ts"

describe("client paths", () => {
  it("normalizes separators, dots and dot-dots lexically", () => {
    expect(normalize("")).toBe("/")
    expect(normalize("/")).toBe("/")
    expect(normalize("a/b")).toBe("/a/b")
    expect(normalize("//a///b/./c/")).toBe("/a/b/c")
    expect(normalize("/a/b/../c")).toBe("/a/c")
    expect(normalize("/../../a")).toBe("/a")
    expect(join("/a", "../b")).toBe("/b")
  })

  it("never leaves . or .. or empty components", () => {
    const segment = fc.constantFrom("a", "b", "long-name", ".", "..", "")
    fc.assert(
      fc.property(fc.array(segment, { maxLength: 12 }), (parts) => {
        const result = components(parts.join("/"))
        expect(result.every((part) => part !== "" && part !== "." && part !== "..")).toBe(true)
        expect(normalize(normalize(parts.join("/")))).toBe(normalize(parts.join("/")))
      }),
      { seed: 42, numRuns: 500 }
    )
  })

  it.effect("splits a path into parent and name, and refuses the root", () =>
    Effect.gen(function*() {
      expect(yield* parentAndName("/a/b/c")).toEqual({ parent: "/a/b", name: "c" })
      expect(yield* parentAndName("top")).toEqual({ parent: "/", name: "top" })
      expect(yield* parentAndName("/a/b/..")).toEqual({ parent: "/", name: "a" })
      const root = yield* Effect.either(parentAndName("/.."))
      expect(Either.isLeft(root) && root.left._tag).toBe("InvalidArgument")
    }))
})
