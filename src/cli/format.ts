/** Text output of `ls -l` and `stat`. */
import { DateTime } from "effect"
import type { Stats } from "../client/Stats.ts"

const permissionString = (mode: number): string => {
  const bits = ["r", "w", "x"]
  let out = ""
  for (let shift = 6; shift >= 0; shift -= 3) {
    for (let i = 0; i < 3; i++) out += (mode >> shift) & (4 >> i) ? bits[i] : "-"
  }
  return out
}

/** `drwxr-xr-x` / `-rw-r--r--` */
export const modeString = (stats: Stats): string => (stats.isDirectory() ? "d" : "-") + permissionString(stats.mode)

export const isoTime = (millis: number): string => DateTime.formatIso(DateTime.unsafeMake(millis))

/** One `ls -l` line. */
export const longListingLine = (name: string, stats: Stats, sizeWidth: number): string =>
  [
    modeString(stats),
    String(stats.nlink),
    String(stats.uid),
    String(stats.gid),
    String(stats.size).padStart(sizeWidth),
    isoTime(stats.mtimeMs),
    name
  ].join(" ")

export const statLines = (path: string, stats: Stats): ReadonlyArray<string> => [
  `  path: ${path}`,
  `  type: ${stats.isDirectory() ? "directory" : "file"}`,
  ` inode: ${stats.ino}`,
  `  size: ${stats.size}`,
  `  mode: ${(stats.mode & 0o7777).toString(8).padStart(4, "0")} (${modeString(stats)})`,
  ` nlink: ${stats.nlink}`,
  `   uid: ${stats.uid}`,
  `   gid: ${stats.gid}`,
  ` atime: ${isoTime(stats.atimeMs)}`,
  ` mtime: ${isoTime(stats.mtimeMs)}`,
  ` ctime: ${isoTime(stats.ctimeMs)}`
]
