/** bench:namespace's command line. */
import { describe, expect, it } from "@effect/vitest"
import { Either } from "effect"
import { parseNamespaceArguments } from "../../bench/namespace/settings.ts"

describe("parseNamespaceArguments", () => {
  it("defaults to a million files in a thousand directories by 64 clients", () => {
    expect(parseNamespaceArguments([])).toEqual(Either.right({ files: 1_000_000, dirs: 1000, concurrency: 64, reportEvery: 50_000, lagFiles: 16_000 }))
  })

  it("takes --name value and --name=value, and answers --help", () => {
    expect(parseNamespaceArguments(["--files", "5000", "--dirs=10", "--concurrency", "8", "--report-every=1000", "--lag-files", "0"]))
      .toEqual(Either.right({ files: 5000, dirs: 10, concurrency: 8, reportEvery: 1000, lagFiles: 0 }))
    expect(parseNamespaceArguments(["--files", "5", "--help"])).toEqual(Either.right("help"))
  })

  it("refuses unknown flags, missing or bad values, zero counts and a list of concurrencies", () => {
    for (const argv of [["--seconds", "5"], ["--files"], ["--files", "many"], ["--dirs", "0"], ["--concurrency", "1,16"], ["--concurrency", "0"], ["--lag-files", "-1"], ["--lag-files", "2k"]]) {
      expect(Either.isLeft(parseNamespaceArguments(argv)), argv.join(" ")).toBe(true)
    }
  })
})
