/**
 * Files of removed versions, kept in `free/` to be written over as new versions.
 *
 * Under small writes the store makes a file per patch and deletes patch files at the same rate
 * (a version superseded, a staged write aborted). Allocating an inode is the dear part of that:
 * on ext4 without a journal, `ext4_new_inode` scans the inode table past every inode freed in
 * the last minutes, and a follower taking 4 KiB overwrites spent a quarter of its event loop
 * in that scan (perf: `find_inode_bit` → `recently_deleted`). Renaming a pooled file to the
 * temp name and writing it over allocates no inode and frees none.
 *
 * Pooled files hold stale bytes and are never read: a writer truncates its file to exactly what
 * it wrote before the fsync. A crash may leave a pooled file in `free/` (taken back at open) or
 * under a temp name (removed at open, as any temp file is).
 */
import * as NodeFs from "node:fs"
import * as NodePath from "node:path"

/**
 * What the pool may hold. A chain of patches is released at once when it is rewritten whole
 * (up to MAX_PATCH_DEPTH files), and the pool must take such a burst: inodes freed in a burst
 * are what the allocator then scans past. Bytes bound the disk it holds back.
 */
export const MAX_POOLED_FILES = 4096
export const MAX_POOLED_BYTES = 64 * 1024 * 1024

export interface FilePool {
  /** A pooled file moved to `path` (which must not exist), or false when none is left. */
  readonly takeNow: (path: string) => boolean
  /** `path` (`bytes` long) moved into the pool, or false when it has no room (the caller deletes it). */
  readonly giveNow: (path: string, bytes: number) => boolean
}

interface Pooled {
  readonly path: string
  readonly bytes: number
}

/**
 * The pool in `dir`, holding what is already there (a pooled file outside the bounds is
 * deleted). Its own failures are never errors of the store: a file that cannot be taken is
 * skipped, one that cannot be given is deleted by the caller.
 */
export const makeFilePool = (dir: string, existing: ReadonlyArray<string>): FilePool => {
  const free: Array<Pooled> = []
  let bytes = 0
  let next = 0
  const giveNow = (path: string, size: number): boolean => {
    if (free.length >= MAX_POOLED_FILES || bytes + size > MAX_POOLED_BYTES) return false
    const pooled = NodePath.join(dir, String(next++))
    try {
      NodeFs.renameSync(path, pooled)
    } catch {
      return false
    }
    free.push({ path: pooled, bytes: size })
    bytes += size
    return true
  }
  for (const name of existing) next = Math.max(next, (Number.parseInt(name, 10) || 0) + 1)
  for (const name of existing) {
    const path = NodePath.join(dir, name)
    try {
      if (!giveNow(path, NodeFs.statSync(path).size)) NodeFs.unlinkSync(path)
    } catch {
      // Gone already.
    }
  }
  return {
    takeNow: (path) => {
      while (free.length > 0) {
        const file = free.pop()!
        bytes -= file.bytes
        try {
          NodeFs.renameSync(file.path, path)
          return true
        } catch {
          // Gone or unmovable: try the next one.
        }
      }
      return false
    },
    giveNow
  }
}
