/**
 * Parsers of the bench's command-line values: sizes (4KiB, 64MiB), durations (60s, 200ms, 2m),
 * concurrency lists (1,16) and phase lists (write,read). Each answers with the value or a
 * message that says what was expected.
 */
import { Duration, Either } from "effect"
import { PHASE_NAMES, type PhaseName } from "./phaseResult.ts"

const sizeUnits: Record<string, number> = { "": 1, b: 1, kib: 1024, mib: 1024 ** 2, gib: 1024 ** 3 }

/** Bytes of `4096`, `512B`, `4KiB`, `1.5MiB`, `1GiB` (units case-insensitive); a positive whole number. */
export const parseSize = (text: string): Either.Either<number, string> => {
  const match = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/i.exec(text.trim())
  const unit = match === null ? undefined : sizeUnits[match[2]!.toLowerCase()]
  if (match === null || unit === undefined) {
    return Either.left(`invalid size "${text}": expected a number with an optional unit B, KiB, MiB or GiB (e.g. 4KiB)`)
  }
  const bytes = Number(match[1]) * unit
  if (!Number.isSafeInteger(bytes) || bytes <= 0) {
    return Either.left(`invalid size "${text}": expected a positive whole number of bytes`)
  }
  return Either.right(bytes)
}

const durationUnits: Record<string, number> = { ms: 1, s: 1000, m: 60_000 }

/** `200ms`, `5s`, `1.5s`, `2m`; zero is allowed (no warm-up), a unit is required. */
export const parseDuration = (text: string): Either.Either<Duration.Duration, string> => {
  const match = /^(\d+(?:\.\d+)?)\s*(ms|s|m)$/i.exec(text.trim())
  if (match === null) {
    return Either.left(`invalid duration "${text}": expected a number with a unit ms, s or m (e.g. 60s)`)
  }
  return Either.right(Duration.millis(Number(match[1]) * durationUnits[match[2]!.toLowerCase()]!))
}

/** A comma-separated list; empty items (a trailing comma) are ignored. */
const items = (text: string): Array<string> => text.split(",").map((item) => item.trim()).filter((item) => item !== "")

export const MAX_CONCURRENCY = 1024

/** `1,16`: positive worker counts, each level once, in the order given. */
export const parseConcurrency = (text: string): Either.Either<ReadonlyArray<number>, string> => {
  const levels: Array<number> = []
  for (const item of items(text)) {
    const level = /^\d+$/.test(item) ? Number(item) : NaN
    if (!(level >= 1 && level <= MAX_CONCURRENCY)) {
      return Either.left(`invalid concurrency "${item}": expected whole numbers from 1 to ${MAX_CONCURRENCY} (e.g. 1,16)`)
    }
    if (!levels.includes(level)) levels.push(level)
  }
  return levels.length === 0 ? Either.left("invalid concurrency: no level given") : Either.right(levels)
}

/** `write,read,stat`: known phase names, each once, in the order given (the order they run in). */
export const parsePhases = (text: string): Either.Either<ReadonlyArray<PhaseName>, string> => {
  const phases: Array<PhaseName> = []
  for (const item of items(text)) {
    const phase = PHASE_NAMES.find((name) => name === item.toLowerCase())
    if (phase === undefined) return Either.left(`unknown phase "${item}": expected some of ${PHASE_NAMES.join(",")}`)
    if (!phases.includes(phase)) phases.push(phase)
  }
  return phases.length === 0 ? Either.left("invalid phases: no phase given") : Either.right(phases)
}
