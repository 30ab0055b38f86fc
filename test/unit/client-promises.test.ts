/** The node:fs/promises-shaped API against a real in-process node. */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { connect, type SandstoreFs } from "../../src/client/promises.ts"
import { firstDifference, MiB, patternBytes, standaloneNode } from "../support/client-node.ts"

const connected = Effect.gen(function*() {
  const address = yield* standaloneNode()
  return yield* Effect.acquireRelease(
    Effect.promise(() => connect({ seeds: [address] })),
    (fs) => Effect.promise(() => fs.close())
  )
})

/** The rejection of a promise that must reject. */
const rejection = (promise: () => Promise<unknown>) =>
  Effect.flatMap(
    Effect.promise(() => promise().then(() => undefined, (error: unknown) => ({ error }))),
    (outcome) => (outcome === undefined ? Effect.dieMessage("expected a rejection") : Effect.succeed(outcome.error as any))
  )

const expectFsError = (error: any, code: string, syscall: string, path: string) => {
  expect(error).toBeInstanceOf(Error)
  expect(error.code).toBe(code)
  expect(error.syscall).toBe(syscall)
  expect(error.path).toBe(path)
  expect(error.message).toContain(`${code}:`)
  expect(error.message).toContain(`'${path}'`)
}

const use = <A>(f: (fs: SandstoreFs) => Promise<A>) => Effect.flatMap(connected, (fs) => Effect.promise(() => f(fs)))

describe("Sandstore Promise API", () => {
  it.scopedLive("rejects with node-style errors: ENOENT, ENOTEMPTY, EEXIST, EISDIR, EBADF", () =>
    Effect.gen(function*() {
      const fs = yield* connected
      expectFsError(yield* rejection(() => fs.stat("/missing")), "ENOENT", "stat", "/missing")

      yield* Effect.promise(() => fs.mkdir("/full/sub", { recursive: true }))
      expectFsError(yield* rejection(() => fs.rmdir("/full")), "ENOTEMPTY", "rmdir", "/full")

      yield* Effect.promise(() => fs.writeFile("/exists.txt", "x"))
      expectFsError(yield* rejection(() => fs.open("/exists.txt", "wx")), "EEXIST", "open", "/exists.txt")

      expectFsError(yield* rejection(() => fs.unlink("/full")), "EISDIR", "unlink", "/full")

      const handle = yield* Effect.promise(() => fs.open("/exists.txt", "r"))
      yield* Effect.promise(() => handle.close())
      expectFsError(yield* rejection(() => handle.read(Buffer.alloc(4))), "EBADF", "read", "/exists.txt")

      expectFsError(yield* rejection(() => fs.readdir("/exists.txt")), "ENOTDIR", "scandir", "/exists.txt")
      const renamed = yield* rejection(() => fs.rename("/nope", "/other"))
      expectFsError(renamed, "ENOENT", "rename", "/nope")
      expect(renamed.dest).toBe("/other")
    }))

  it.scopedLive("files: open, write, read into buffers, stat, truncate, readFile, readdir", () =>
    use(async (fs) => {
      const data = patternBytes(2 * MiB + 123, 9)
      const handle = await fs.open("/p.bin", "w+")
      const written = await handle.write(data)
      expect(written.bytesWritten).toBe(data.length)
      expect(written.buffer).toBe(data)
      expect((await handle.write("tail")).bytesWritten).toBe(4)
      await handle.sync()
      const target = Buffer.alloc(10)
      const read = await handle.read(target, 2, 6, MiB)
      expect(read.bytesRead).toBe(6)
      expect([...target.subarray(2, 8)]).toEqual([...data.subarray(MiB, MiB + 6)])
      const { bytesRead, buffer } = await handle.read(10, data.length)
      expect(buffer.subarray(0, bytesRead).toString()).toBe("tail")
      expect((await handle.stat()).size).toBe(data.length + 4)
      await handle.truncate(data.length)
      await handle.close()

      const whole = await fs.readFile("/p.bin")
      expect(Buffer.isBuffer(whole)).toBe(true)
      expect(firstDifference(whole, data)).toBe(-1)
      await fs.writeFile("/hello.txt", "héllo")
      expect(await fs.readFile("/hello.txt", "utf8")).toBe("héllo")
      await fs.truncate("/hello.txt", 1)
      expect(await fs.readFile("/hello.txt", { encoding: "utf8" })).toBe("h")

      expect(await fs.mkdir("/d/e", { recursive: true })).toBe("/d")
      await fs.rename("/hello.txt", "/d/e/hello.txt")
      const listing = await fs.readdir("/d/e", { withFileTypes: true })
      expect(listing.map((entry) => [entry.name, entry.isFile(), entry.stats.size])).toEqual([["hello.txt", true, 1]])
      expect((await fs.readdir("/")).sort()).toEqual(["d", "p.bin"])
      const stats = await fs.stat("/d")
      expect([stats.isDirectory(), stats.isFile(), (stats.mode & 0o170000) === 0o040000]).toEqual([true, false, true])
      await fs.access("/d/e/hello.txt")
      await fs.unlink("/d/e/hello.txt")
      await fs.rmdir("/d/e")
      expect(await fs.readdir("/d")).toEqual([])
    }))

  it.scopedLive("connect rejects with EAGAIN when no seed answers", () =>
    Effect.gen(function*() {
      const error = yield* rejection(() => connect({ seeds: ["127.0.0.1:1"] }))
      expect(error.code).toBe("EAGAIN")
      expect(error.syscall).toBe("connect")
    }))
})
