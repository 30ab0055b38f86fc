/**
 * node:fs-shaped views of Sandstore attributes: `Stats` (stat, FileHandle.stat) and `Dirent`
 * (readdir withFileTypes). Times are milliseconds since the epoch, as node's `*Ms` fields.
 */
import type { Attributes, FileType, InodeId } from "../domain/fs.ts"

export const S_IFMT = 0o170000
export const S_IFREG = 0o100000
export const S_IFDIR = 0o040000

const typeBits = (type: FileType): number => (type === "directory" ? S_IFDIR : S_IFREG)

export class Stats {
  readonly dev = 0
  readonly rdev = 0
  readonly ino: number
  /** file type bits | permission bits, as in stat(2) */
  readonly mode: number
  readonly nlink: number
  readonly uid: number
  readonly gid: number
  readonly size: number
  readonly blksize: number
  readonly blocks: number
  readonly atimeMs: number
  readonly mtimeMs: number
  readonly ctimeMs: number
  readonly birthtimeMs: number

  constructor(readonly attributes: Attributes, chunkSize: number) {
    this.ino = attributes.inode
    this.mode = typeBits(attributes.type) | attributes.mode
    this.nlink = attributes.nlink
    this.uid = attributes.uid
    this.gid = attributes.gid
    this.size = attributes.size
    this.blksize = chunkSize
    this.blocks = Math.ceil(attributes.size / 512)
    this.atimeMs = attributes.atime
    this.mtimeMs = attributes.mtime
    this.ctimeMs = attributes.ctime
    this.birthtimeMs = attributes.ctime
  }

  isFile(): boolean { return this.attributes.type === "file" }
  isDirectory(): boolean { return this.attributes.type === "directory" }
  isSymbolicLink(): boolean { return false }
  isBlockDevice(): boolean { return false }
  isCharacterDevice(): boolean { return false }
  isFIFO(): boolean { return false }
  isSocket(): boolean { return false }
}

export class Dirent {
  constructor(
    readonly name: string,
    /** the directory that was listed */
    readonly parentPath: string,
    readonly inode: InodeId,
    readonly type: FileType,
    /** attributes as of the listing (ReaddirPlus) */
    readonly stats: Stats
  ) {}

  isFile(): boolean { return this.type === "file" }
  isDirectory(): boolean { return this.type === "directory" }
  isSymbolicLink(): boolean { return false }
  isBlockDevice(): boolean { return false }
  isCharacterDevice(): boolean { return false }
  isFIFO(): boolean { return false }
  isSocket(): boolean { return false }
}
