/** Majority arithmetic over a fixed voter set: vote tallies and the index a quorum has reached. */
import type { NodeId } from "./types.ts"

export const quorumSize = (voterCount: number): number => Math.floor(voterCount / 2) + 1

/** The highest index that at least a quorum of `matches` (one per voter) has reached. */
export const quorumIndex = (matches: ReadonlyArray<number>): number => {
  const sorted = [...matches].sort((a, b) => b - a)
  return sorted[quorumSize(matches.length) - 1] ?? 0
}

export type VoteOutcome = "won" | "lost" | "pending"

export const tallyVotes = (voters: ReadonlyArray<NodeId>, votes: ReadonlyMap<NodeId, boolean>): VoteOutcome => {
  let granted = 0
  let rejected = 0
  for (const voter of voters) {
    const vote = votes.get(voter)
    if (vote === true) granted++
    else if (vote === false) rejected++
  }
  const needed = quorumSize(voters.length)
  if (granted >= needed) return "won"
  if (rejected > voters.length - needed) return "lost"
  return "pending"
}
