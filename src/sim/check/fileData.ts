/**
 * A file's bytes as the model knows them: its size and the pattern writes that cover parts of
 * it (src/sim/content.ts); bytes no segment covers are zeros (holes, extension by truncate).
 * Modelling bytes rather than a content id keeps pwrite and truncate checkable: a read after
 * them must return exactly the overlaid patterns. Segments are sorted, disjoint and merged
 * where contiguous, so equal bytes from equal writes have one key.
 */
import { patternByte } from "../content.ts"
import type { Content } from "../history.ts"

/** File positions [start, end) hold pattern `seed`, with pattern index 0 at file position `origin`. */
export interface Segment {
  readonly start: number
  readonly end: number
  readonly seed: number
  readonly origin: number
}

export interface FileData {
  readonly size: number
  readonly segments: ReadonlyArray<Segment>
}

export const emptyFile: FileData = { size: 0, segments: [] }

export const fromContent = (content: Content): FileData =>
  content === null || content.length === 0
    ? emptyFile
    : { size: content.length, segments: [{ start: 0, end: content.length, seed: content.seed, origin: 0 }] }

const merged = (segments: ReadonlyArray<Segment>): Array<Segment> => {
  const out: Array<Segment> = []
  for (const segment of [...segments].sort((a, b) => a.start - b.start)) {
    if (segment.end <= segment.start) continue
    const last = out[out.length - 1]
    if (last !== undefined && last.end === segment.start && last.seed === segment.seed && last.origin === segment.origin) {
      out[out.length - 1] = { ...last, end: segment.end }
    } else {
      out.push(segment)
    }
  }
  return out
}

/** The parts of `segments` outside [start, end). */
const cut = (segments: ReadonlyArray<Segment>, start: number, end: number): Array<Segment> =>
  segments.flatMap((s) => [
    { ...s, end: Math.min(s.end, start) },
    { ...s, start: Math.max(s.start, end) }
  ]).filter((s) => s.end > s.start)

/** Bytes of pattern `seed` written at `offset` (the pattern starts there). */
export const pwrite = (data: FileData, offset: number, seed: number, length: number): FileData =>
  length <= 0
    ? data
    : {
      size: Math.max(data.size, offset + length),
      segments: merged([...cut(data.segments, offset, offset + length), { start: offset, end: offset + length, seed, origin: offset }])
    }

/** Shorten, or extend with zeros. */
export const truncate = (data: FileData, size: number): FileData => ({
  size,
  segments: data.segments.map((s) => ({ ...s, end: Math.min(s.end, size) })).filter((s) => s.end > s.start)
})

export const fileKey = (data: FileData): string =>
  `${data.size}[${data.segments.map((s) => `${s.start}-${s.end}:${s.seed}@${s.origin}`).join(",")}]`

const byteAt = (data: FileData, position: number, hint: { index: number }): number => {
  const segments = data.segments
  while (hint.index < segments.length && segments[hint.index]!.end <= position) hint.index++
  const segment = segments[hint.index]
  return segment !== undefined && segment.start <= position ? patternByte(segment.seed, position - segment.origin) : 0
}

export const fileBytes = (data: FileData): Uint8Array => {
  const out = new Uint8Array(data.size)
  const hint = { index: 0 }
  for (let i = 0; i < data.size; i++) out[i] = byteAt(data, i, hint)
  return out
}

export const equalsBytes = (data: FileData, bytes: Uint8Array): boolean => {
  if (bytes.length !== data.size) return false
  const hint = { index: 0 }
  for (let i = 0; i < bytes.length; i++) if (bytes[i] !== byteAt(data, i, hint)) return false
  return true
}

export const equalsContent = (data: FileData, content: Content): boolean => {
  const expected = fromContent(content)
  if (expected.size !== data.size) return false
  if (fileKey(expected) === fileKey(data)) return true
  // Different writes can still leave the same bytes (a pwrite of the pattern over itself).
  const hint = { index: 0 }
  const seed = content === null ? 0 : content.seed
  for (let i = 0; i < data.size; i++) if (patternByte(seed, i) !== byteAt(data, i, hint)) return false
  return true
}

export const describeFile = (data: FileData): string =>
  data.size === 0
    ? "empty"
    : data.segments.length === 1 && data.segments[0]!.start === 0 && data.segments[0]!.origin === 0 &&
        data.segments[0]!.end === data.size
    ? `{seed ${data.segments[0]!.seed}, length ${data.size}}`
    : `${data.size} bytes of ${data.segments.length} pattern run(s)`
