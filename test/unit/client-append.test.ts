import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { clientOf, standaloneNode } from "../support/client-node.ts"

const text = (s: string) => new TextEncoder().encode(s)
const decode = (b: Uint8Array) => new TextDecoder().decode(b)

describe("O_APPEND across clients", () => {
  it.scopedLive("appends from two handles opened at the same size both land, in commit order", () =>
    Effect.gen(function*() {
      const address = yield* standaloneNode()
      const a = yield* clientOf([address])
      const b = yield* clientOf([address])
      yield* a.writeFile("/log", text("start\n"))
      const h1 = yield* a.open("/log", "a")
      const h2 = yield* b.open("/log", "a")
      yield* h1.write(text("one\n"))
      yield* h1.close
      yield* h2.write(text("two\n"))
      yield* h2.close
      expect(decode(yield* a.readFile("/log"))).toBe("start\none\ntwo\n")
    }))

  it.scopedLive("concurrent appenders never overwrite each other", () =>
    Effect.gen(function*() {
      const address = yield* standaloneNode()
      const clients = yield* Effect.all([clientOf([address]), clientOf([address]), clientOf([address])])
      yield* clients[0].writeFile("/log", new Uint8Array(0))
      const lines = (c: number) => Array.from({ length: 10 }, (_, i) => `client ${c} line ${i}\n`)
      yield* Effect.forEach(clients, (client, c) =>
        Effect.scoped(Effect.gen(function*() {
          const handle = yield* client.openScoped("/log", "a")
          for (const line of lines(c)) {
            yield* handle.write(text(line))
            yield* handle.sync
          }
        })), { concurrency: "unbounded", discard: true })
      const got = decode(yield* clients[0].readFile("/log")).split("\n").filter((l) => l !== "")
      expect(got.length).toBe(30)
      expect([...got].sort()).toEqual([0, 1, 2].flatMap((c) => lines(c).map((l) => l.trimEnd())).sort())
      // each client's own lines stay in its order
      for (const c of [0, 1, 2]) expect(got.filter((l) => l.startsWith(`client ${c} `))).toEqual(lines(c).map((l) => l.trimEnd()))
    }))
})
