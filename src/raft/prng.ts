/**
 * A tiny seeded PRNG (mulberry32) for the Raft core's election jitter. The core must replay
 * exactly from its inputs, so it never reads Math.random; the stream is derived from the
 * configured seed and the node id, so nodes that are handed the same seed still draw
 * different timeouts (identical timeouts would split every vote).
 */

export interface Prng {
  state: number
}

/** FNV-1a over the id, folded into the seed. */
export const makePrng = (seed: number, salt: string): Prng => {
  let hash = (0x811c9dc5 ^ (seed | 0)) >>> 0
  for (let i = 0; i < salt.length; i++) {
    hash = Math.imul(hash ^ salt.charCodeAt(i), 0x01000193) >>> 0
  }
  return { state: hash }
}

/** The next 32-bit unsigned value; advances `prng` in place. */
export const nextUint32 = (prng: Prng): number => {
  prng.state = (prng.state + 0x6d2b79f5) >>> 0
  let t = prng.state
  t = Math.imul(t ^ (t >>> 15), t | 1)
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
  return (t ^ (t >>> 14)) >>> 0
}

/** A value in [0, bound) for bound >= 1. */
export const nextInt = (prng: Prng, bound: number): number => nextUint32(prng) % Math.max(1, Math.floor(bound))

/** A value in [0, 1). */
export const nextFloat = (prng: Prng): number => nextUint32(prng) / 4294967296
