/** The pool of removed chunk files (layers/chunks/filePool.ts): bounded, reopened from its directory, never failing the store. */
import { afterEach, describe, expect, it } from "vitest"
import * as NodeFs from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { makeFilePool, MAX_POOLED_BYTES, MAX_POOLED_FILES } from "../../layers/chunks/filePool.ts"

const dirs: Array<string> = []
afterEach(() => {
  for (const dir of dirs.splice(0)) NodeFs.rmSync(dir, { recursive: true, force: true })
})

const tempDir = () => {
  const dir = NodeFs.mkdtempSync(join(tmpdir(), "sandstore-file-pool-"))
  dirs.push(dir)
  NodeFs.mkdirSync(join(dir, "free"))
  return dir
}

const fileOf = (dir: string, name: string, bytes: number) => {
  const path = join(dir, name)
  NodeFs.writeFileSync(path, Buffer.alloc(bytes, 1))
  return path
}

describe("file pool", () => {
  it("gives files back last in, first out, and has none when empty", () => {
    const dir = tempDir()
    const pool = makeFilePool(join(dir, "free"), [])
    expect(pool.takeNow(join(dir, "t0"))).toBe(false)
    const a = fileOf(dir, "a", 10)
    const b = fileOf(dir, "b", 10)
    expect(pool.giveNow(a, 10)).toBe(true)
    expect(pool.giveNow(b, 10)).toBe(true)
    const inodeOfB = NodeFs.statSync(join(dir, "free", NodeFs.readdirSync(join(dir, "free")).sort()[1]!)).ino
    expect(pool.takeNow(join(dir, "t1"))).toBe(true)
    expect(NodeFs.statSync(join(dir, "t1")).ino).toBe(inodeOfB)
    expect(pool.takeNow(join(dir, "t2"))).toBe(true)
    expect(pool.takeNow(join(dir, "t3"))).toBe(false)
    expect(NodeFs.readdirSync(join(dir, "free"))).toEqual([])
  })

  it("refuses a file beyond its byte bound, and one that is not there", () => {
    const dir = tempDir()
    const pool = makeFilePool(join(dir, "free"), [])
    const big = fileOf(dir, "big", 1)
    expect(pool.giveNow(big, MAX_POOLED_BYTES + 1)).toBe(false)
    expect(NodeFs.existsSync(big)).toBe(true)
    expect(pool.giveNow(join(dir, "missing"), 1)).toBe(false)
  })

  it("holds at most MAX_POOLED_FILES files", () => {
    const dir = tempDir()
    const pool = makeFilePool(join(dir, "free"), [])
    for (let i = 0; i < MAX_POOLED_FILES; i++) expect(pool.giveNow(fileOf(dir, `f${i}`, 0), 0)).toBe(true)
    expect(pool.giveNow(fileOf(dir, "one-more", 0), 0)).toBe(false)
  })

  it("reopens with the files its directory holds, deleting what exceeds its bounds", () => {
    const dir = tempDir()
    const free = join(dir, "free")
    NodeFs.writeFileSync(join(free, "3"), Buffer.alloc(100))
    NodeFs.writeFileSync(join(free, "7"), Buffer.alloc(MAX_POOLED_BYTES))
    const pool = makeFilePool(free, NodeFs.readdirSync(free))
    expect(NodeFs.readdirSync(free).length).toBe(1)
    // A file given now does not take the name of one already there.
    expect(pool.giveNow(fileOf(dir, "new", 5), 5)).toBe(true)
    expect(NodeFs.readdirSync(free).length).toBe(2)
    expect(pool.takeNow(join(dir, "t0"))).toBe(true)
    expect(pool.takeNow(join(dir, "t1"))).toBe(true)
    expect(pool.takeNow(join(dir, "t2"))).toBe(false)
  })
})
