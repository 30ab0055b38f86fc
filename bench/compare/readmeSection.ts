/**
 * The README's copy of the latest comparison lives between two markers at the end of its
 * "## Benchmarks" section. Replacing it touches nothing outside the markers; when they are
 * missing they are added where the section ends.
 */
import { Either } from "effect"

export const SECTION_BEGIN = "<!-- compare:begin -->"
export const SECTION_END = "<!-- compare:end -->"

const HOST_HEADING = "## Benchmarks"

const block = (content: string) => `${SECTION_BEGIN}\n${content.trim()}\n${SECTION_END}`

/** `readme` with `content` between the markers, or why that cannot be done safely. */
export const replaceSection = (readme: string, content: string): Either.Either<string, string> => {
  const begin = readme.indexOf(SECTION_BEGIN)
  const end = readme.indexOf(SECTION_END)
  if (begin >= 0 && end > begin) {
    if (readme.indexOf(SECTION_BEGIN, begin + 1) >= 0 || readme.indexOf(SECTION_END, end + 1) >= 0) {
      return Either.left("the README has more than one compare section")
    }
    return Either.right(readme.slice(0, begin) + block(content) + readme.slice(end + SECTION_END.length))
  }
  if (begin >= 0 || end >= 0) return Either.left(`the README has only one of ${SECTION_BEGIN} and ${SECTION_END}, or them out of order`)

  const lines = readme.split("\n")
  const heading = lines.findIndex((line) => line.trimEnd() === HOST_HEADING)
  if (heading < 0) return Either.left(`the README has no "${HOST_HEADING}" section`)
  // The section ends at the next heading of the same or a higher level, outside code blocks.
  let next = lines.length
  let inCode = false
  for (let i = heading + 1; i < lines.length; i++) {
    if (lines[i]!.startsWith("```")) inCode = !inCode
    else if (!inCode && /^#{1,2} /.test(lines[i]!)) {
      next = i
      break
    }
  }
  let last = next
  while (last > heading + 1 && lines[last - 1]!.trim() === "") last--
  const after = lines.slice(next)
  return Either.right(
    [...lines.slice(0, last), "", block(content), ...(after.length > 0 ? ["", ...after] : [""])].join("\n")
  )
}
