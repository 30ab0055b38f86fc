/** Argument checks both SnapshotStore layers make, so they refuse the same requests with the same words. */
import type { SnapshotFile } from "../../src/services/SnapshotStore.ts"

/** A log index, term, size or offset: a non-negative safe integer. */
export const isPosition = (n: number) => Number.isSafeInteger(n) && n >= 0

/** Why reading `length` bytes of `snapshot` at `offset` makes no sense, or undefined. */
export const badRead = (snapshot: SnapshotFile, offset: number, length: number): string | undefined => {
  if (!isPosition(snapshot.index) || !isPosition(snapshot.term) || !isPosition(snapshot.size)) {
    return `not a snapshot: index ${snapshot.index}, term ${snapshot.term}, size ${snapshot.size}`
  }
  if (!isPosition(offset) || !isPosition(length)) {
    return `a snapshot read needs a non-negative integer offset and length, got ${offset} and ${length}`
  }
  if (offset > snapshot.size) return `read offset ${offset} is past the end of a ${snapshot.size}-byte snapshot`
  return undefined
}
