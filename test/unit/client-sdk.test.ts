/**
 * The Effect SDK against a real in-process standalone node (1 MiB chunks, so files of a few MiB
 * span chunks cheaply).
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Either } from "effect"
import { O_CREAT, O_RDWR } from "../../src/client/OpenFlags.ts"
import { clientOf, firstDifference, MiB, patternBytes, standaloneNode } from "../support/client-node.ts"

const failure = <A, E>(effect: Effect.Effect<A, E>) =>
  Effect.flatMap(Effect.either(effect), (result) =>
    Either.isLeft(result) ? Effect.succeed(result.left) : Effect.dieMessage("expected a failure"))

const client = Effect.flatMap(standaloneNode(), (address) => clientOf([address]))

describe("SandstoreClient", () => {
  it.scopedLive("round-trips a multi-chunk file and reads ranges that span chunks", () =>
    Effect.gen(function*() {
      const fs = yield* client
      const data = patternBytes(3 * MiB + MiB / 2 + 17, 1)
      yield* fs.writeFile("/big.bin", data)
      expect((yield* fs.stat("/big.bin")).size).toBe(data.length)
      expect(firstDifference(yield* fs.readFile("/big.bin"), data)).toBe(-1)

      const handle = yield* fs.open("/big.bin", "r")
      const from = MiB - 100
      expect(firstDifference(yield* handle.read(2 * MiB, from), data.subarray(from, from + 2 * MiB))).toBe(-1)
      // Short only at end of file.
      expect(yield* handle.read(MiB, data.length - 10)).toEqual(data.subarray(data.length - 10))
      expect((yield* handle.read(10, data.length)).length).toBe(0)
      // Without a position, reads continue where the last one stopped.
      expect(yield* handle.read(5)).toEqual(data.subarray(0, 5))
      expect(yield* handle.read(5)).toEqual(data.subarray(5, 10))
      const target = new Uint8Array(20)
      const into = yield* handle.readInto(target, { offset: 4, length: 8, position: 2 * MiB - 4 })
      expect(into.bytesRead).toBe(8)
      expect(target.subarray(4, 12)).toEqual(data.subarray(2 * MiB - 4, 2 * MiB + 4))
      yield* handle.close
    }))

  it.scopedLive("buffers writes of 1, 1.5 and 1.5 MiB; only sent bytes become visible, and all of them by sync", () =>
    Effect.gen(function*() {
      const fs = yield* client
      const data = patternBytes(4 * MiB, 2)
      const handle = yield* fs.open("/buffered.bin", "w")
      /** What another reader sees: one of `prefixes` of the data (a piece in flight may not have landed yet). */
      const visibleIsOneOf = (...prefixes: ReadonlyArray<number>) =>
        Effect.map(fs.readFile("/buffered.bin"), (bytes) => {
          expect(prefixes).toContain(bytes.length)
          expect(firstDifference(bytes, data.subarray(0, bytes.length))).toBe(-1)
        })

      expect(yield* handle.write(data.subarray(0, MiB))).toBe(MiB)
      yield* visibleIsOneOf(0)
      // 1 + 1.5 MiB overflows the 2 MiB buffer: the first MiB is sent, the 1.5 MiB waits.
      yield* handle.write(data.subarray(MiB, 2.5 * MiB))
      yield* visibleIsOneOf(0, MiB)
      yield* handle.write(data.subarray(2.5 * MiB, 4 * MiB))
      yield* visibleIsOneOf(0, MiB, 2.5 * MiB)
      yield* handle.sync
      yield* visibleIsOneOf(4 * MiB)
      yield* handle.close
      yield* visibleIsOneOf(4 * MiB)
    }))

  it.scopedLive("a handle sees its own unflushed writes; a non-contiguous write sends the run first", () =>
    Effect.gen(function*() {
      const fs = yield* client
      const handle = yield* fs.open("/own.bin", "w+")
      yield* handle.write(Uint8Array.of(1, 2, 3))
      expect((yield* fs.readFile("/own.bin")).length).toBe(0)
      expect(yield* handle.read(10, 0)).toEqual(Uint8Array.of(1, 2, 3))
      yield* handle.write(Uint8Array.of(9), 1)
      yield* handle.write(Uint8Array.of(7), 10)
      // The 9 was sent when the 7 came, which waits in the buffer; another reader sees either.
      expect([[1, 2, 3], [1, 9, 3]]).toContainEqual([...yield* fs.readFile("/own.bin")])
      yield* handle.sync
      // Buffered, unseen by others until sent.
      yield* handle.write(Uint8Array.of(5), 12)
      expect(yield* fs.readFile("/own.bin")).toEqual(Uint8Array.of(1, 9, 3, 0, 0, 0, 0, 0, 0, 0, 7))
      expect((yield* handle.stat).size).toBe(13)
      yield* handle.close
      expect(yield* fs.readFile("/own.bin")).toEqual(Uint8Array.of(1, 9, 3, 0, 0, 0, 0, 0, 0, 0, 7, 0, 5))
    }))

  it.scopedLive("a sparse write past EOF leaves a hole that reads as zeros", () =>
    Effect.gen(function*() {
      const fs = yield* client
      const handle = yield* fs.open("/sparse.bin", "w+")
      yield* handle.write(Uint8Array.of(1, 2, 3), 0)
      const far = 2 * MiB + MiB / 2
      yield* handle.write(Uint8Array.of(4, 5), far)
      yield* handle.close
      const bytes = yield* fs.readFile("/sparse.bin")
      expect(bytes.length).toBe(far + 2)
      const expected = new Uint8Array(far + 2)
      expected.set([1, 2, 3], 0)
      expected.set([4, 5], far)
      expect(firstDifference(bytes, expected)).toBe(-1)
      // A read wholly inside the hole is full length, not an early EOF.
      const reader = yield* fs.open("/sparse.bin", "r")
      expect(firstDifference(yield* reader.read(MiB, MiB), new Uint8Array(MiB))).toBe(-1)
      yield* reader.close
    }))

  it.scopedLive("operations on a closed handle fail with EBADF; closing twice is a no-op", () =>
    Effect.gen(function*() {
      const fs = yield* client
      const handle = yield* fs.open("/closed.bin", "w+")
      yield* handle.write(Uint8Array.of(1))
      yield* handle.close
      expect(yield* fs.readFile("/closed.bin")).toEqual(Uint8Array.of(1))
      for (const op of [handle.read(1, 0), handle.write(Uint8Array.of(2)), handle.sync, handle.stat, handle.truncate(0)]) {
        const error = yield* failure(op)
        expect(error._tag).toBe("BadFileDescriptor")
        expect(error.code).toBe("EBADF")
        expect("path" in error && error.path).toBe("/closed.bin")
      }
      yield* handle.close
      const readOnly = yield* fs.open("/closed.bin", "r")
      expect((yield* failure(readOnly.write(Uint8Array.of(3)))).code).toBe("EBADF")
      const writeOnly = yield* fs.open("/closed.bin", "a")
      expect((yield* failure(writeOnly.read(1, 0))).code).toBe("EBADF")
      yield* writeOnly.write(Uint8Array.of(5))
      yield* writeOnly.close
      expect(yield* fs.readFile("/closed.bin")).toEqual(Uint8Array.of(1, 5))
    }))

  it.scopedLive("mkdir: recursive creates missing parents; errors say ENOENT, EEXIST, ENOTDIR", () =>
    Effect.gen(function*() {
      const fs = yield* client
      expect(yield* fs.mkdir("/x/y/z", { recursive: true })).toBe("/x")
      expect(yield* fs.mkdir("/x/y/z", { recursive: true })).toBeUndefined()
      expect(yield* fs.mkdir("/x/y/z/w/v", { recursive: true })).toBe("/x/y/z/w")
      expect((yield* fs.stat("/x/y/z/w/v")).isDirectory()).toBe(true)
      expect(yield* fs.readdir("/x/y")).toEqual(["z"])
      yield* fs.writeFile("/x/file", "f")
      expect((yield* failure(fs.mkdir("/x/file/sub", { recursive: true }))).code).toBe("ENOTDIR")
      expect((yield* failure(fs.mkdir("/x/y"))).code).toBe("EEXIST")
      expect((yield* failure(fs.mkdir("/"))).code).toBe("EEXIST")
      expect(yield* fs.mkdir("/", { recursive: true })).toBeUndefined()
      const missing = yield* failure(fs.mkdir("/nowhere/d"))
      expect([missing.code, "path" in missing && missing.path]).toEqual(["ENOENT", "/nowhere/d"])
    }))

  it.scopedLive("8 concurrent O_CREAT opens of one new path all succeed on the same file", () =>
    Effect.gen(function*() {
      const fs = yield* client
      const handles = yield* Effect.all(
        Array.from({ length: 8 }, () => fs.open("/race.bin", O_CREAT | O_RDWR)),
        { concurrency: "unbounded" }
      )
      expect(new Set(handles.map((handle) => handle.inode)).size).toBe(1)
      yield* Effect.forEach(handles, (handle, i) => handle.write(Uint8Array.of(i + 1), i))
      yield* Effect.forEach(handles, (handle) => handle.close)
      expect(yield* fs.readdir("/")).toEqual(["race.bin"])
      expect(yield* fs.readFile("/race.bin")).toEqual(Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8))
    }))

  it.scopedLive("rename of an open file with buffered data: close flushes to the renamed file", () =>
    Effect.gen(function*() {
      const fs = yield* client
      const handle = yield* fs.open("/before.txt", "w")
      yield* handle.write(new TextEncoder().encode("buffered"))
      yield* fs.rename("/before.txt", "/after.txt")
      yield* handle.close
      expect(new TextDecoder().decode(yield* fs.readFile("/after.txt"))).toBe("buffered")
      expect((yield* failure(fs.stat("/before.txt"))).code).toBe("ENOENT")
    }))

  it.scopedLive("truncate, append, wx and access", () =>
    Effect.gen(function*() {
      const fs = yield* client
      yield* fs.writeFile("/t.txt", "hello world")
      yield* fs.truncate("/t.txt", 5)
      expect(new TextDecoder().decode(yield* fs.readFile("/t.txt"))).toBe("hello")
      const appender = yield* fs.open("/t.txt", "a")
      yield* appender.write(new TextEncoder().encode("!"), 0)
      yield* appender.close
      expect(new TextDecoder().decode(yield* fs.readFile("/t.txt"))).toBe("hello!")
      const handle = yield* fs.open("/t.txt", "r+")
      yield* handle.truncate(2)
      expect((yield* handle.stat).size).toBe(2)
      yield* handle.close
      expect((yield* failure(fs.open("/t.txt", "wx"))).code).toBe("EEXIST")
      yield* fs.access("/t.txt")
      expect((yield* failure(fs.access("/none"))).code).toBe("ENOENT")
      expect((yield* failure(fs.open("/", "w"))).code).toBe("EISDIR")
      expect((yield* failure(fs.readdir("/t.txt"))).code).toBe("ENOTDIR")
      expect((yield* failure(fs.open("/t.txt", "bogus" as never))).code).toBe("EINVAL")
    }))

  it.scopedLive("connects to the first reachable seed", () =>
    Effect.gen(function*() {
      const address = yield* standaloneNode()
      const fs = yield* clientOf(["127.0.0.1:1", address])
      yield* fs.writeFile("/seed.txt", "ok")
      expect(new TextDecoder().decode(yield* fs.readFile("/seed.txt"))).toBe("ok")
      const error = yield* failure(Effect.scoped(clientOf(["127.0.0.1:1"])))
      expect(error.code).toBe("EAGAIN")
    }))
})
