import { describe, expect, it } from "vitest"
import type * as Net from "node:net"
import { coalesceWrites } from "../../layers/transport/coalescedWrites.ts"

/** A socket that records what the coalescing does to it: writes while corked, and when it is uncorked. */
const recordingSocket = () => {
  const events: Array<string> = []
  let corks = 0
  const socket = {
    cork: () => {
      corks++
      events.push("cork")
    },
    uncork: () => {
      corks--
      events.push("uncork")
    },
    write: (chunk: string) => {
      events.push(corks > 0 ? `corked ${chunk}` : `sent ${chunk}`)
      return true
    }
  }
  return { socket: socket as unknown as Net.Socket, events }
}

/** Run `work` as a promise job, as the fibers that write do, and wait until the event-loop turn after it. */
const inTurn = (work: () => void) =>
  new Promise<void>((resolve) => {
    void Promise.resolve().then(work)
    setImmediate(() => setImmediate(resolve))
  })

describe("coalesceWrites", () => {
  it("corks the first write of a turn and uncorks once the turn's work has run", async () => {
    const { socket, events } = recordingSocket()
    coalesceWrites(socket)
    await inTurn(() => {
      socket.write("a")
      socket.write("b")
      // A fiber woken by the first write, running later in the same turn.
      void Promise.resolve().then(() => Promise.resolve()).then(() => socket.write("c"))
    })
    expect(events).toEqual(["cork", "corked a", "corked b", "corked c", "uncork"])
    await inTurn(() => socket.write("d"))
    expect(events.slice(5)).toEqual(["cork", "corked d", "uncork"])
  })

  it("flush sends what is corked at once, and the end of the turn does not uncork twice", async () => {
    const { socket, events } = recordingSocket()
    const flush = coalesceWrites(socket)
    await inTurn(() => {
      socket.write("urgent")
      flush()
      events.push("after flush")
      socket.write("next")
    })
    expect(events).toEqual(["cork", "corked urgent", "uncork", "after flush", "cork", "corked next", "uncork"])
  })
})
