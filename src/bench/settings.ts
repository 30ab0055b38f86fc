/** What one bench run measures, and the checks that make a run of it meaningful. */
import { Duration, Either } from "effect"
import { MAX_CONCURRENCY } from "./arguments.ts"
import type { PhaseName } from "./phaseResult.ts"

export interface BenchSettings {
  /** run in this order */
  readonly phases: ReadonlyArray<PhaseName>
  /** each phase runs once at each level, in this order */
  readonly concurrency: ReadonlyArray<number>
  /** the timed window of each run */
  readonly duration: Duration.Duration
  /** the untimed window before it */
  readonly warmup: Duration.Duration
  /** bytes per write and read operation */
  readonly blockSize: number
  /** a writer moves to a new file when the next block would pass this size */
  readonly fileSize: number
  /** entries of the directory listdir lists */
  readonly listdirEntries: number
}

/** Larger blocks would hold GiBs in flight at high concurrency for no extra insight. */
export const MAX_BLOCK_SIZE = 64 * 1024 * 1024

export const MAX_LISTDIR_ENTRIES = 100_000

const isLevel = (n: number) => Number.isInteger(n) && n >= 1 && n <= MAX_CONCURRENCY

export const validateSettings = (settings: BenchSettings): Either.Either<void, string> => {
  const { blockSize, concurrency, duration, fileSize, listdirEntries, phases, warmup } = settings
  const problem = phases.length === 0
    ? "no phase to run"
    : concurrency.length === 0 || !concurrency.every(isLevel)
    ? `concurrency levels must be whole numbers from 1 to ${MAX_CONCURRENCY}`
    : !Duration.isFinite(duration) || !Duration.greaterThan(duration, Duration.zero)
    ? "the duration must be positive"
    : !Duration.isFinite(warmup)
    ? "the warm-up must be finite"
    : !Number.isSafeInteger(blockSize) || blockSize < 1 || blockSize > MAX_BLOCK_SIZE
    ? `the block size must be from 1 B to ${MAX_BLOCK_SIZE / 1024 / 1024} MiB`
    : !Number.isSafeInteger(fileSize) || fileSize < blockSize
    ? `the file size (${fileSize} B) must hold at least one block (${blockSize} B)`
    : !Number.isSafeInteger(listdirEntries) || listdirEntries < 0 || listdirEntries > MAX_LISTDIR_ENTRIES
    ? `listdir entries must be from 0 to ${MAX_LISTDIR_ENTRIES}`
    : undefined
  return problem === undefined ? Either.void : Either.left(problem)
}
