/** Bench command-line values: sizes, durations, concurrency and phase lists, and the settings check. */
import { describe, expect, it } from "@effect/vitest"
import { Duration, Either } from "effect"
import { parseConcurrency, parseDuration, parsePhases, parseSize } from "../../src/bench/arguments.ts"
import { type BenchSettings, validateSettings } from "../../src/bench/settings.ts"

const right = <A>(either: Either.Either<A, string>): A => Either.getOrThrowWith(either, (message) => new Error(message))
const left = <A>(either: Either.Either<A, string>): string =>
  Either.match(either, { onLeft: (message) => message, onRight: (value) => `(parsed as ${String(value)})` })

describe("bench sizes", () => {
  it("accept B, KiB, MiB and GiB, case-insensitively, and bare bytes", () => {
    expect(right(parseSize("4096"))).toBe(4096)
    expect(right(parseSize("512B"))).toBe(512)
    expect(right(parseSize("4KiB"))).toBe(4096)
    expect(right(parseSize("4kib"))).toBe(4096)
    expect(right(parseSize("64MiB"))).toBe(64 * 1024 * 1024)
    expect(right(parseSize("1GiB"))).toBe(1024 ** 3)
    expect(right(parseSize("1.5KiB"))).toBe(1536)
    expect(right(parseSize(" 2 MiB "))).toBe(2 * 1024 * 1024)
  })

  it("reject unknown units, zero, fractions of a byte and garbage", () => {
    expect(left(parseSize("4KB"))).toContain("B, KiB, MiB or GiB")
    expect(left(parseSize("4XB"))).toContain("invalid size \"4XB\"")
    expect(left(parseSize("0"))).toContain("positive whole number")
    expect(left(parseSize("0.3B"))).toContain("positive whole number")
    expect(left(parseSize("-4KiB"))).toContain("invalid size")
    expect(left(parseSize(""))).toContain("invalid size")
    expect(left(parseSize("KiB"))).toContain("invalid size")
  })
})

describe("bench durations", () => {
  it("accept ms, s and m", () => {
    expect(Duration.toMillis(right(parseDuration("200ms")))).toBe(200)
    expect(Duration.toMillis(right(parseDuration("60s")))).toBe(60_000)
    expect(Duration.toMillis(right(parseDuration("1.5s")))).toBe(1500)
    expect(Duration.toMillis(right(parseDuration("2m")))).toBe(120_000)
    expect(Duration.toMillis(right(parseDuration("0s")))).toBe(0)
  })

  it("require a unit and a non-negative number", () => {
    expect(left(parseDuration("60"))).toContain("ms, s or m")
    expect(left(parseDuration("5h"))).toContain("invalid duration")
    expect(left(parseDuration("-1s"))).toContain("invalid duration")
    expect(left(parseDuration("s"))).toContain("invalid duration")
  })
})

describe("bench lists", () => {
  it("concurrency: positive levels in order, each once", () => {
    expect(right(parseConcurrency("1,16"))).toEqual([1, 16])
    expect(right(parseConcurrency("8"))).toEqual([8])
    expect(right(parseConcurrency("4, 1, 4,"))).toEqual([4, 1])
    expect(left(parseConcurrency("0"))).toContain("from 1 to")
    expect(left(parseConcurrency("1,x"))).toContain("\"x\"")
    expect(left(parseConcurrency("1.5"))).toContain("\"1.5\"")
    expect(left(parseConcurrency("5000"))).toContain("from 1 to 1024")
    expect(left(parseConcurrency(","))).toContain("no level")
  })

  it("phases: known names in the order given, each once", () => {
    expect(right(parsePhases("write,read,stat,create,listdir"))).toEqual(["write", "read", "stat", "create", "listdir"])
    expect(right(parsePhases("listdir,Write,listdir"))).toEqual(["listdir", "write"])
    expect(left(parsePhases("write,delete"))).toContain("unknown phase \"delete\"")
    expect(left(parsePhases(""))).toContain("no phase")
  })
})

describe("bench settings", () => {
  const settings: BenchSettings = {
    phases: ["write"],
    concurrency: [1],
    duration: Duration.seconds(1),
    warmup: Duration.zero,
    blockSize: 4096,
    fileSize: 65536,
    listdirEntries: 10
  }

  it("accept a sensible run", () => {
    expect(Either.isRight(validateSettings(settings))).toBe(true)
    expect(Either.isRight(validateSettings({ ...settings, fileSize: 4096 }))).toBe(true)
  })

  it("reject a file that cannot hold a block, a zero duration, huge blocks and empty lists", () => {
    expect(left(validateSettings({ ...settings, fileSize: 4095 }))).toContain("at least one block")
    expect(left(validateSettings({ ...settings, duration: Duration.zero }))).toContain("positive")
    expect(left(validateSettings({ ...settings, blockSize: 65 * 1024 * 1024, fileSize: 1024 ** 3 })))
      .toContain("block size")
    expect(left(validateSettings({ ...settings, phases: [] }))).toContain("no phase")
    expect(left(validateSettings({ ...settings, concurrency: [] }))).toContain("concurrency")
    expect(left(validateSettings({ ...settings, listdirEntries: -1 }))).toContain("listdir")
  })
})
