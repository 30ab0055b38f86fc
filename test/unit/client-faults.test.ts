/**
 * The SDK's retry and buffering contracts under injected faults, against a real in-process
 * node: every RPC passes through an interceptor that can fail it or lose its reply.
 */
import { RpcClientError } from "@effect/rpc/RpcClientError"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Either } from "effect"
import type { ClientSettings } from "../../src/client/SandstoreClient.ts"
import { IoError } from "../../src/domain/errors.ts"
import { faultyClientOf, type Intercept } from "../support/client-faulty-router.ts"
import { firstDifference, MiB, patternBytes, standaloneNode } from "../support/client-node.ts"

const fastRetry: ClientSettings = { retry: { retries: 4, baseDelay: "5 millis", maxDelay: "20 millis", attemptTimeout: "30 seconds" } }

describe("SandstoreClient under faults", () => {
  it.scopedLive("a mutation whose reply is lost is retried as the same session request and applied once", () =>
    Effect.gen(function*() {
      const address = yield* standaloneNode()
      const seen: Array<unknown> = []
      let loseNextReply = true
      const intercept: Intercept = (rpc, payload, proceed) => {
        if (rpc !== "Mkdir") return proceed
        seen.push(payload.request)
        if (!loseNextReply) return proceed
        loseNextReply = false
        // The node applies the mkdir; the client never hears back.
        return Effect.zipRight(proceed, Effect.fail(new RpcClientError({ reason: "Protocol", message: "reply lost" })))
      }
      const fs = yield* faultyClientOf([address], intercept, fastRetry)
      // Without deduplication the retry would fail with EEXIST.
      yield* fs.mkdir("/once")
      expect(seen.length).toBe(2)
      const [first, resent] = seen as Array<{ session: string; seq: number; ackedBelow: number }>
      expect(resent).toEqual(first)
      expect(first!.session).toBe(fs.sessionId())
      expect(first!.session).toMatch(/^[0-9a-f]{32}$/)
      expect(yield* fs.readdir("/")).toEqual(["once"])
      // The next mutation gets the next number, and tells the node the first one was answered.
      yield* fs.mkdir("/twice")
      const next = seen[2] as { session: string; seq: number; ackedBelow: number }
      expect(next.session).toBe(first!.session)
      expect(next.seq).toBe(first!.seq + 1)
      expect(next.ackedBelow).toBe(next.seq)
    }))

  it.scopedLive("a failed flush fails the call with the typed error and keeps the bytes for a later sync", () =>
    Effect.gen(function*() {
      const address = yield* standaloneNode()
      let failWrites = false
      const intercept: Intercept = (rpc, _payload, proceed) =>
        rpc === "Write" && failWrites ? Effect.fail(new IoError({ message: "disk on fire" })) : proceed
      const fs = yield* faultyClientOf([address], intercept, fastRetry)
      const data = patternBytes(MiB + 1000, 3)
      const handle = yield* fs.open("/kept.bin", "w")
      yield* handle.write(data)
      failWrites = true
      const failed = yield* Effect.either(handle.sync)
      expect(Either.isLeft(failed) && failed.left.code).toBe("EIO")
      // close flushes too, so it fails the same way and leaves the handle open.
      expect(Either.isLeft(yield* Effect.either(handle.close))).toBe(true)
      expect((yield* fs.readFile("/kept.bin")).length).toBe(0)
      failWrites = false
      yield* handle.sync
      expect(firstDifference(yield* fs.readFile("/kept.bin"), data)).toBe(-1)
      yield* handle.close
    }))

  it.scopedLive("transport failures of reads are retried until the node answers", () =>
    Effect.gen(function*() {
      const address = yield* standaloneNode()
      let failures = 3
      const intercept: Intercept = (rpc, _payload, proceed) =>
        rpc === "LookupPath" && failures-- > 0
          ? Effect.fail(new RpcClientError({ reason: "Protocol", message: "connection reset" }))
          : proceed
      const fs = yield* faultyClientOf([address], intercept, fastRetry)
      expect((yield* fs.stat("/")).isDirectory()).toBe(true)
      expect(failures).toBe(-1)
    }))

  it.scopedLive("a node that stays unreachable surfaces as EAGAIN once retries run out", () =>
    Effect.gen(function*() {
      const address = yield* standaloneNode()
      const intercept: Intercept = (rpc, _payload, proceed) =>
        rpc === "GetAttr" ? Effect.fail(new RpcClientError({ reason: "Protocol", message: "connection reset" })) : proceed
      const fs = yield* faultyClientOf([address], intercept, fastRetry)
      const handle = yield* fs.open("/f", "w+")
      const result = yield* Effect.either(handle.stat)
      expect(Either.isLeft(result) && [result.left.code, result.left._tag]).toEqual(["EAGAIN", "Unavailable"])
      yield* handle.close
    }))

  it.scopedLive("readdir lists more than 100 entries in pages of 100", () =>
    Effect.gen(function*() {
      const address = yield* standaloneNode()
      const pages: Array<string> = []
      const intercept: Intercept = (rpc, payload, proceed) => {
        if (rpc === "Readdir" || rpc === "ReaddirPlus") {
          expect(payload.max).toBe(100)
          pages.push(rpc)
        }
        return proceed
      }
      const fs = yield* faultyClientOf([address], intercept, fastRetry)
      yield* fs.mkdir("/many")
      const names = Array.from({ length: 250 }, (_, i) => `f${String(i).padStart(3, "0")}`)
      yield* Effect.forEach(names, (name) => Effect.flatMap(fs.open(`/many/${name}`, "wx"), (h) => h.close), {
        concurrency: 16
      })
      expect([...(yield* fs.readdir("/many"))].sort()).toEqual(names)
      expect(pages).toEqual(["Readdir", "Readdir", "Readdir"])
      const entries = yield* fs.readdir("/many", { withFileTypes: true })
      expect(entries.length).toBe(250)
      expect(entries.every((entry) => entry.isFile() && entry.parentPath === "/many" && entry.stats.size === 0)).toBe(true)
      expect(pages.filter((rpc) => rpc === "ReaddirPlus").length).toBe(3)
    }))

  it.scopedLive("readFile of a small file is one request; a larger one goes on by inode; errors name the path", () =>
    Effect.gen(function*() {
      const address = yield* standaloneNode()
      const calls: Array<string> = []
      const intercept: Intercept = (rpc, _payload, proceed) => {
        calls.push(rpc)
        return proceed
      }
      const fs = yield* faultyClientOf([address], intercept, fastRetry)
      yield* fs.writeFile("/small.txt", "hello")
      const big = patternBytes(MiB + 123, 7)
      yield* fs.writeFile("/big.bin", big)
      yield* fs.mkdir("/dir")
      calls.length = 0
      expect(new TextDecoder().decode(yield* fs.readFile("/small.txt"))).toBe("hello")
      expect(calls).toEqual(["ReadPath"])
      calls.length = 0
      const read = yield* fs.readFile("/big.bin")
      expect(firstDifference(read, big)).toBe(-1)
      expect(calls[0]).toBe("ReadPath")
      expect(calls.slice(1).every((rpc) => rpc === "Read")).toBe(true)
      const missing = yield* Effect.flip(fs.readFile("/nope"))
      expect(missing).toMatchObject({ _tag: "NotFound", path: "/nope" })
      expect((yield* Effect.flip(fs.readFile("/dir")))._tag).toBe("IsADirectory")
    }))

  it.scopedLive("a timeout around readFile or a scoped open cuts a hung request short", () =>
    Effect.gen(function*() {
      const address = yield* standaloneNode()
      let hang = false
      // The node never answers a request by path: readFile's first read and an open's lookup wait on it.
      const intercept: Intercept = (rpc, _payload, proceed) =>
        ((rpc === "LookupPath" || rpc === "ReadPath") && hang ? Effect.never : proceed)
      const fs = yield* faultyClientOf([address], intercept, fastRetry)
      yield* fs.writeFile("/hung.txt", "x")
      hang = true
      const read = yield* fs.readFile("/hung.txt").pipe(Effect.timeout("200 millis"), Effect.either)
      expect(Either.isLeft(read) && read.left._tag).toBe("TimeoutException")
      const opened = yield* Effect.scoped(fs.openScoped("/hung.txt", "r+")).pipe(Effect.timeout("200 millis"), Effect.either)
      expect(Either.isLeft(opened) && opened.left._tag).toBe("TimeoutException")
      hang = false
      expect(new TextDecoder().decode(yield* fs.readFile("/hung.txt"))).toBe("x")
    }))

  it.scopedLive("readdir of a directory replaced by a rename between its lookup and its listing lists the new one", () =>
    Effect.gen(function*() {
      const address = yield* standaloneNode()
      let replaceBeforeListing = false
      let fs!: Effect.Effect.Success<ReturnType<typeof faultyClientOf>>
      const intercept: Intercept = (rpc, _payload, proceed) => {
        if (rpc !== "Readdir" || !replaceBeforeListing) return proceed
        replaceBeforeListing = false
        // The lookup saw the old /d; by the time it is listed, /e has been renamed over it.
        return Effect.zipRight(Effect.orDie(fs.rename("/e", "/d")), proceed)
      }
      fs = yield* faultyClientOf([address], intercept, fastRetry)
      yield* fs.mkdir("/d")
      yield* fs.mkdir("/e")
      yield* fs.writeFile("/e/x", "x")
      replaceBeforeListing = true
      expect(yield* fs.readdir("/d")).toEqual(["x"])
      expect(replaceBeforeListing).toBe(false)
    }))

  it.scopedLive("a flush whose outcome was unknown is resent under the same request id, so it applies once", () =>
    Effect.gen(function*() {
      const address = yield* standaloneNode()
      const writeIds: Array<unknown> = []
      let loseNextReply = false
      const intercept: Intercept = (rpc, payload, proceed) => {
        if (rpc !== "Write") return proceed
        writeIds.push(payload.requestId)
        if (!loseNextReply) return proceed
        loseNextReply = false
        // The node applies the write; the client hears a failure it does not retry by itself.
        return Effect.zipRight(proceed, Effect.fail(new IoError({ message: "reply lost" })))
      }
      const fs = yield* faultyClientOf([address], intercept, fastRetry)
      const other = yield* faultyClientOf([address], (_rpc, _payload, proceed) => proceed, fastRetry)
      yield* fs.writeFile("/once.bin", patternBytes(600, 1))
      const handle = yield* fs.open("/once.bin", "r+")
      yield* handle.write(patternBytes(600, 2), 0)
      loseNextReply = true
      expect(Either.isLeft(yield* Effect.either(handle.sync))).toBe(true)
      // Another client writes the range after the lost-reply write took effect.
      yield* other.writeFile("/once.bin", patternBytes(600, 3))
      // The retried flush must not apply the first write a second time, over the other client's.
      yield* handle.sync
      expect(writeIds.at(-1)).toBe(writeIds.at(-2))
      expect(firstDifference(yield* fs.readFile("/once.bin"), patternBytes(600, 3))).toBe(-1)
      yield* handle.close
    }))

  it.scopedLive("a change whose directory a rename replaced after the lookup is made in the directory now at that path", () =>
    Effect.gen(function*() {
      const address = yield* standaloneNode()
      const other = yield* faultyClientOf([address], (_rpc, _payload, proceed) => proceed, fastRetry)
      // Just before this client's next change reaches the node, another client renames an empty
      // directory over `replaced`: the path exists throughout, only its inode changes.
      let replaced: string | null = null
      const intercept: Intercept = (rpc, _payload, proceed) => {
        const dir = replaced
        if (dir === null || (rpc !== "Create" && rpc !== "Mkdir" && rpc !== "Rename")) return proceed
        replaced = null
        return Effect.zipRight(Effect.orDie(other.rename(`${dir}-new`, dir)), proceed)
      }
      const fs = yield* faultyClientOf([address], intercept, fastRetry)
      const race = (dir: string) =>
        Effect.gen(function*() {
          yield* other.mkdir(dir)
          yield* other.mkdir(`${dir}-new`)
          replaced = dir
        })

      yield* race("/a")
      yield* Effect.flatMap(fs.open("/a/file", "wx"), (handle) => handle.close)
      expect(yield* fs.readdir("/a")).toEqual(["file"])

      yield* race("/b")
      yield* fs.mkdir("/b/sub")
      expect(yield* fs.readdir("/b")).toEqual(["sub"])

      yield* race("/c")
      yield* other.mkdir("/c-new/x")
      yield* fs.rename("/c/x", "/c/y")
      expect(yield* fs.readdir("/c")).toEqual(["y"])

      // A NotFound about the name itself stands: the directory is still the one looked up.
      const error = yield* Effect.flip(fs.unlink("/c/nothing"))
      expect(error._tag).toBe("NotFound")
      expect([...yield* other.readdir("/")].sort()).toEqual(["a", "b", "c"])
    }))
})
