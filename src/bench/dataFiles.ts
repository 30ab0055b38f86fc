/**
 * The files the write phase makes (and the read and stat phases use), and the bytes in them.
 * Every block's bytes derive from the file's seed and the block's index, so a reader can verify
 * any block it reads without keeping a copy: block k of a file is a window of one shared
 * pseudo-random buffer, at a start that depends on the seed and k. Windows are subarrays, so
 * producing a block copies nothing.
 */
import { patternBytes } from "../lib/patternBytes.ts"

/** Distinct window starts; a prime, so consecutive blocks of a file never share one before this many. */
const STARTS = 4093

export class BlockPattern {
  private readonly bytes: Uint8Array

  constructor(readonly blockSize: number, seed: number) {
    this.bytes = patternBytes(blockSize + STARTS, seed)
  }

  /** The bytes of block `index` of the file with `fileSeed`. */
  block(fileSeed: number, index: number): Uint8Array {
    const start = ((fileSeed % STARTS) * 7919 + (index % STARTS) * 1009) % STARTS
    return this.bytes.subarray(start, start + this.blockSize)
  }

  /**
   * Whether `data`, read at block-aligned `offset`, is the start of the block written there (a
   * read at the end of a file may be short).
   */
  matches(fileSeed: number, offset: number, data: Uint8Array): boolean {
    if (offset % this.blockSize !== 0 || data.length > this.blockSize) return false
    const expected = this.block(fileSeed, offset / this.blockSize).subarray(0, data.length)
    return Buffer.compare(data, expected) === 0
  }
}

export interface DataFile {
  readonly path: string
  readonly seed: number
  /** bytes acknowledged as durable so far */
  bytes: number
}

/** Every data file of a run, in the order they were created. */
export class DataFiles {
  private readonly files: Array<DataFile> = []

  constructor(readonly directory: string) {}

  /** A new file name (not yet created), registered with no bytes. */
  allocate(label: string): DataFile {
    const seed = this.files.length + 1
    const file: DataFile = { path: `${this.directory}/${label}-${seed}`, seed, bytes: 0 }
    this.files.push(file)
    return file
  }

  /** Files with at least one acknowledged byte. */
  get nonEmpty(): ReadonlyArray<DataFile> {
    return this.files.filter((file) => file.bytes > 0)
  }
}
