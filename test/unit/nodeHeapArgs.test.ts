import { describe, expect, it } from "vitest"
import { NODE_HEAP_ARGS, nodeHeapArgs } from "../../src/lib/nodeHeapArgs.ts"

describe("nodeHeapArgs", () => {
  it("starts nodes with a 256 MB initial old space and 64 MB semi-spaces when the parent sets neither", () => {
    expect(NODE_HEAP_ARGS).toEqual(["--initial-old-space-size=256", "--max-semi-space-size=64"])
    expect(nodeHeapArgs(["--enable-source-maps"], { PATH: "/usr/bin" })).toEqual(NODE_HEAP_ARGS)
    expect(nodeHeapArgs([], {})).toEqual(NODE_HEAP_ARGS)
  })

  it("leaves the old space to a parent started with an old-space size of its own, on its command line or in NODE_OPTIONS", () => {
    expect(nodeHeapArgs(["--max-old-space-size=512"], {})).toEqual(["--max-semi-space-size=64"])
    expect(nodeHeapArgs(["--initial_old_space_size=64"], {})).toEqual(["--max-semi-space-size=64"])
    expect(nodeHeapArgs([], { NODE_OPTIONS: "--enable-source-maps --max-old-space-size=1024" })).toEqual(["--max-semi-space-size=64"])
  })

  it("leaves the young generation to a parent that sizes its semi-spaces", () => {
    expect(nodeHeapArgs(["--max-semi-space-size=16"], {})).toEqual(["--initial-old-space-size=256"])
    expect(nodeHeapArgs([], { NODE_OPTIONS: "--min_semi_space_size=8" })).toEqual(["--initial-old-space-size=256"])
    expect(nodeHeapArgs(["--initial-old-space-size=256", "--max-semi-space-size=64"], {})).toEqual([])
  })

  it("is not fooled by other flags that mention either space", () => {
    expect(nodeHeapArgs(["--max-old-space-sizes-are-fun", "--semi-space-growth-factor=2"], {})).toEqual(NODE_HEAP_ARGS)
  })
})
