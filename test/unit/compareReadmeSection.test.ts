/** bench:compare's README section: replaced between its markers, added at the end of Benchmarks when absent. */
import { describe, expect, it } from "@effect/vitest"
import { Either } from "effect"
import { replaceSection, SECTION_BEGIN, SECTION_END } from "../../bench/compare/readmeSection.ts"

const readme = [
  "# Project",
  "",
  "## Benchmarks",
  "",
  "```sh",
  "## not a heading inside code",
  "```",
  "",
  "",
  "## Layout",
  "",
  "text",
  ""
].join("\n")

const right = (result: Either.Either<string, string>) => Either.getOrThrowWith(result, (message) => new Error(message))

describe("replaceSection", () => {
  it("adds the markers at the end of the Benchmarks section, before the next section", () => {
    const updated = right(replaceSection(readme, "table v1\n"))
    expect(updated).toBe([
      "# Project",
      "",
      "## Benchmarks",
      "",
      "```sh",
      "## not a heading inside code",
      "```",
      "",
      SECTION_BEGIN,
      "table v1",
      SECTION_END,
      "",
      "## Layout",
      "",
      "text",
      ""
    ].join("\n"))
  })

  it("replaces only what lies between the markers", () => {
    const once = right(replaceSection(readme, "table v1"))
    const twice = right(replaceSection(once, "table v2\nmore"))
    expect(twice).toBe(once.replace("table v1", "table v2\nmore"))
    expect(right(replaceSection(twice, "table v1"))).toBe(once)
  })

  it("appends to a Benchmarks section that ends the file", () => {
    const updated = right(replaceSection("# P\n\n## Benchmarks\n\nrun it\n", "t"))
    expect(updated).toBe(`# P\n\n## Benchmarks\n\nrun it\n\n${SECTION_BEGIN}\nt\n${SECTION_END}\n`)
  })

  it("keeps a Benchmarks subsection inside the section", () => {
    const updated = right(replaceSection("## Benchmarks\n\n### Raft\n\nx\n\n## Next\n", "t"))
    expect(updated).toBe(`## Benchmarks\n\n### Raft\n\nx\n\n${SECTION_BEGIN}\nt\n${SECTION_END}\n\n## Next\n`)
  })

  it("refuses a README without a Benchmarks section, a lone marker, or two sections", () => {
    expect(Either.isLeft(replaceSection("# P\n\n## Usage\n", "t"))).toBe(true)
    expect(Either.isLeft(replaceSection(`## Benchmarks\n${SECTION_BEGIN}\n`, "t"))).toBe(true)
    expect(Either.isLeft(replaceSection(`## Benchmarks\n${SECTION_END}\n${SECTION_BEGIN}\n`, "t"))).toBe(true)
    const two = `${SECTION_BEGIN}\na\n${SECTION_END}\n${SECTION_BEGIN}\nb\n${SECTION_END}\n`
    expect(Either.isLeft(replaceSection(two, "t"))).toBe(true)
  })
})
