import { describe, expect, it } from "vitest"
import { lacksHeapSettings, NODE_HEAP_ARGS, nodeHeapArgs } from "../../src/lib/nodeHeapArgs.ts"

describe("nodeHeapArgs", () => {
  it("starts nodes with a 256 MB initial old space when the parent sizes none", () => {
    expect(NODE_HEAP_ARGS).toEqual(["--initial-old-space-size=256"])
    expect(nodeHeapArgs(["--enable-source-maps"], { PATH: "/usr/bin" })).toEqual(NODE_HEAP_ARGS)
    expect(lacksHeapSettings([], {})).toBe(true)
  })

  it("leaves the choice to a parent started with an old-space size of its own, on its command line or in NODE_OPTIONS", () => {
    expect(nodeHeapArgs(["--max-old-space-size=512"], {})).toEqual([])
    expect(nodeHeapArgs(["--initial_old_space_size=64"], {})).toEqual([])
    expect(nodeHeapArgs([], { NODE_OPTIONS: "--enable-source-maps --max-old-space-size=1024" })).toEqual([])
    expect(lacksHeapSettings(["--initial-old-space-size=256"], {})).toBe(false)
  })

  it("is not fooled by other flags that mention the old space", () => {
    expect(nodeHeapArgs(["--max-old-space-sizes-are-fun"], {})).toEqual(NODE_HEAP_ARGS)
  })
})
