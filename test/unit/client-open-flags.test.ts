import { describe, expect, it } from "@effect/vitest"
import { Effect, Either } from "effect"
import {
  O_APPEND, O_CREAT, O_EXCL, O_RDONLY, O_RDWR, O_TRUNC, O_WRONLY, parseOpenFlags
} from "../../src/client/OpenFlags.ts"

describe("client open flags", () => {
  it.effect("parses node's string flags", () =>
    Effect.gen(function*() {
      expect(yield* parseOpenFlags("r")).toEqual({
        read: true, write: false, create: false, exclusive: false, truncate: false, append: false
      })
      expect(yield* parseOpenFlags("r+")).toMatchObject({ read: true, write: true, create: false, truncate: false })
      expect(yield* parseOpenFlags("w")).toMatchObject({ read: false, write: true, create: true, truncate: true })
      expect(yield* parseOpenFlags("w+")).toMatchObject({ read: true, write: true, create: true, truncate: true })
      expect(yield* parseOpenFlags("wx")).toMatchObject({ write: true, create: true, exclusive: true })
      expect(yield* parseOpenFlags("a")).toMatchObject({ read: false, write: true, create: true, append: true, truncate: false })
    }))

  it.effect("parses numeric O_* combinations the same way", () =>
    Effect.gen(function*() {
      expect(yield* parseOpenFlags(O_RDONLY)).toEqual(yield* parseOpenFlags("r"))
      expect(yield* parseOpenFlags(O_RDWR)).toEqual(yield* parseOpenFlags("r+"))
      expect(yield* parseOpenFlags(O_WRONLY | O_CREAT | O_TRUNC)).toEqual(yield* parseOpenFlags("w"))
      expect(yield* parseOpenFlags(O_WRONLY | O_CREAT | O_TRUNC | O_EXCL)).toEqual(yield* parseOpenFlags("wx"))
      expect(yield* parseOpenFlags(O_WRONLY | O_CREAT | O_APPEND)).toEqual(yield* parseOpenFlags("a"))
      expect(yield* parseOpenFlags(O_RDWR | O_CREAT)).toMatchObject({ read: true, write: true, create: true, truncate: false })
    }))

  it.effect("rejects unknown flags with EINVAL", () =>
    Effect.gen(function*() {
      for (const bad of ["rw", "x", 3, 0o4000000, -1, 1.5]) {
        const result = yield* Effect.either(parseOpenFlags(bad as never))
        expect(Either.isLeft(result) && result.left.code).toBe("EINVAL")
      }
    }))
})
