/** bench:compare's command line, its etcd version probe and the large file's pieces. */
import { describe, expect, it } from "@effect/vitest"
import { Duration, Either } from "effect"
import { parseEtcdVersion } from "../../bench/compare/etcdCluster.ts"
import { FilePieces } from "../../bench/compare/filePieces.ts"
import { type CompareSettings, parseCompareArguments } from "../../bench/compare/settings.ts"

const settings = (argv: ReadonlyArray<string>): CompareSettings => {
  const parsed = Either.getOrThrowWith(parseCompareArguments(argv), (message) => new Error(message))
  if (parsed._tag !== "Run") throw new Error("expected settings")
  return parsed.settings
}

describe("parseCompareArguments", () => {
  it("defaults to 10 s rows after 2 s of warm-up, 5 s of priming, at 1, 16 and 64 clients, and a 256 MiB file", () => {
    const defaults = settings([])
    expect(Duration.toMillis(defaults.duration)).toBe(10_000)
    expect(Duration.toMillis(defaults.warmup)).toBe(2_000)
    expect(Duration.toMillis(defaults.prime)).toBe(15_000)
    expect(defaults.concurrency).toEqual([1, 16, 64])
    expect(defaults.fileSize).toBe(256 * 1024 * 1024)
    expect(defaults.smallOnly).toBe(false)
  })

  it("takes --small-only as a switch, anywhere", () => {
    expect(settings(["--small-only"]).smallOnly).toBe(true)
    const given = settings(["--duration", "2s", "--small-only", "--concurrency", "4"])
    expect(given.smallOnly).toBe(true)
    expect(given.concurrency).toEqual([4])
  })

  it("takes --name value and --name=value", () => {
    const given = settings(["--duration", "3s", "--warmup=0s", "--concurrency", "2,4", "--file-size=16MiB"])
    expect(Duration.toMillis(given.duration)).toBe(3_000)
    expect(Duration.toMillis(given.warmup)).toBe(0)
    expect(given.concurrency).toEqual([2, 4])
    expect(given.fileSize).toBe(16 * 1024 * 1024)
  })

  it("answers --help with help", () => {
    expect(parseCompareArguments(["--duration", "1s", "--help"])).toEqual(Either.right({ _tag: "Help" }))
  })

  it("rejects unknown flags, missing values, bad values and a zero duration", () => {
    for (const argv of [["--seconds", "5"], ["extra"], ["--duration"], ["--duration", "5"], ["--duration", "0s"], ["--concurrency", "0"], ["--file-size", "lots"]]) {
      expect(Either.isLeft(parseCompareArguments(argv)), argv.join(" ")).toBe(true)
    }
  })
})

describe("parseEtcdVersion", () => {
  it("reads the version from etcd --version", () => {
    expect(parseEtcdVersion("etcd Version: 3.4.23\nGit SHA: Not provided\nGo Version: go1.19.8\n")).toBe("3.4.23")
    expect(parseEtcdVersion("command not found")).toBeUndefined()
  })
})

describe("FilePieces", () => {
  it("covers the file exactly, the last piece short", () => {
    const pieces = new FilePieces(10, 4, 7)
    expect(pieces.count).toBe(3)
    expect([0, 1, 2].map((i) => pieces.piece(i).length)).toEqual([4, 4, 2])
    expect([0, 1, 2].map((i) => pieces.offset(i))).toEqual([0, 4, 8])
  })

  it("gives every piece different bytes, and the same bytes every time", () => {
    const pieces = new FilePieces(64 * 1024, 8 * 1024, 7)
    const all = Array.from({ length: pieces.count }, (_, i) => Buffer.from(pieces.piece(i)).toString("hex"))
    expect(new Set(all).size).toBe(pieces.count)
    expect(pieces.matches(3, pieces.piece(3))).toBe(true)
    expect(pieces.matches(3, pieces.piece(4))).toBe(false)
    expect(pieces.matches(3, pieces.piece(3).subarray(1))).toBe(false)
  })
})
