import { describe, expect, it } from "@effect/vitest"
import { RpcSerialization } from "@effect/rpc"
import { Effect } from "effect"
import fc from "fast-check"
import { Packr } from "msgpackr"
import { ATTACH_FROM_BYTES } from "../../layers/transport/attachedBytes.ts"
import {
  type FrameParts, framedMsgpack, layerFramedMsgpack, makeStreamParser, maxFrameBytes, READ_IN_PLACE_FROM, type StreamParser, StreamRefused
} from "../../layers/transport/framedMsgpack.ts"

/** `value` with every Uint8Array in it replaced by its hex string, for a quick deep comparison. */
const bytesAsHex = (value: unknown): unknown => {
  if (value instanceof Uint8Array) return Buffer.from(value.buffer, value.byteOffset, value.length).toString("hex")
  if (Array.isArray(value)) return value.map(bytesAsHex)
  if (value !== null && typeof value === "object") return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, bytesAsHex(v)]))
  return value
}

const concat = (parts: ReadonlyArray<Uint8Array>): Uint8Array => {
  const out = new Uint8Array(parts.reduce((n, part) => n + part.length, 0))
  let offset = 0
  for (const part of parts) {
    out.set(part, offset)
    offset += part.length
  }
  return out
}

const encodeAll = (messages: ReadonlyArray<unknown>): Uint8Array => {
  const parser = framedMsgpack.unsafeMake()
  return concat(messages.map((message) => parser.encode(message) as Uint8Array))
}

/** Feeds `stream` to a fresh parser cut at `cuts` (sorted offsets) and collects every message. */
const decodeInPieces = (stream: Uint8Array, cuts: ReadonlyArray<number>): Array<unknown> => {
  const parser = framedMsgpack.unsafeMake()
  const decoded: Array<unknown> = []
  let start = 0
  for (const cut of [...cuts, stream.length]) {
    decoded.push(...parser.decode(stream.subarray(start, cut)))
    start = cut
  }
  return decoded
}

const sampleMessages = [
  { _tag: "Request", id: "1", tag: "Echo", payload: { data: new Uint8Array([0, 1, 2, 255]) }, headers: [] },
  { _tag: "Exit", requestId: "1", exit: { _tag: "Success", value: "héllo ✓" } },
  { _tag: "Ping" },
  [1, -2, 3_000_000_000, null, true],
  new Uint8Array(70_000).map((_, i) => (i * 131) & 0xff)
]

const header = (length: number) => {
  const bytes = new Uint8Array(4)
  new DataView(bytes.buffer).setUint32(0, length)
  return bytes
}

const message = fc.oneof(
  fc.record({
    _tag: fc.constantFrom("Request", "Exit", "Chunk"),
    id: fc.string(),
    payload: fc.oneof(
      fc.uint8Array({ maxLength: 2_000 }),
      fc.string({ unit: "grapheme", maxLength: 200 }),
      fc.integer(),
      fc.array(fc.record({ name: fc.string(), size: fc.nat() }), { maxLength: 20 })
    )
  }),
  fc.uint8Array({ maxLength: 5_000 })
)

describe("framedMsgpack", () => {
  it("prefixes each message with its body length, big-endian", () => {
    const frame = framedMsgpack.unsafeMake().encode({ hello: "world" }) as Uint8Array
    expect(new DataView(frame.buffer, frame.byteOffset).getUint32(0)).toBe(frame.length - 4)
  })

  it("round-trips messages, keeping bytes as Uint8Array rather than arrays", () => {
    const decoded = decodeInPieces(encodeAll(sampleMessages), [])
    expect(decoded).toEqual(sampleMessages)
    const request = decoded[0] as { payload: { data: unknown } }
    expect(request.payload.data).toBeInstanceOf(Uint8Array)
    expect(decoded[4]).toBeInstanceOf(Uint8Array)
  })

  it("decodes binaries from socket Buffers as plain Uint8Arrays, whole or reassembled", () => {
    const stream = Buffer.from(encodeAll([{ data: new Uint8Array([7, 8, 9]) }, new Uint8Array(1_000).fill(1)]))
    const parser = framedMsgpack.unsafeMake()
    const decoded = [...parser.decode(stream.subarray(0, 100)), ...parser.decode(stream.subarray(100))]
    const first = (decoded[0] as { data: Uint8Array }).data
    expect(Object.getPrototypeOf(first)).toBe(Uint8Array.prototype)
    expect(Object.getPrototypeOf(decoded[1])).toBe(Uint8Array.prototype)
    expect(decoded).toEqual([{ data: new Uint8Array([7, 8, 9]) }, new Uint8Array(1_000).fill(1)])
  })

  it("decodes a stream split at every byte boundary", () => {
    const messages = sampleMessages.slice(0, 4)
    const stream = encodeAll(messages)
    for (let cut = 0; cut <= stream.length; cut++) {
      expect(decodeInPieces(stream, [cut])).toEqual(messages)
    }
  })

  it("decodes a stream fed one byte at a time", () => {
    const stream = encodeAll(sampleMessages.slice(0, 4))
    const cuts = Array.from({ length: stream.length - 1 }, (_, i) => i + 1)
    expect(decodeInPieces(stream, cuts)).toEqual(sampleMessages.slice(0, 4))
  })

  it("decodes any messages cut at any set of split points", () => {
    fc.assert(
      fc.property(
        fc.array(message, { minLength: 1, maxLength: 12 }),
        fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 40 }),
        (messages, fractions) => {
          const stream = encodeAll(messages)
          const cuts = [...new Set(fractions.map((f) => Math.floor(f * stream.length)))].sort((a, b) => a - b)
          expect(decodeInPieces(stream, cuts)).toEqual(messages)
        }
      ),
      { seed: 20240611, numRuns: 300 }
    )
  })

  it("decodes many small messages in one chunk, in order", () => {
    const messages = Array.from({ length: 5_000 }, (_, i) => ({ _tag: "Ack", requestId: String(i) }))
    const parser = framedMsgpack.unsafeMake()
    expect(parser.decode(encodeAll(messages))).toEqual(messages)
  })

  it("returns nothing until a frame is complete, then only that frame", () => {
    const parser = framedMsgpack.unsafeMake()
    const frame = parser.encode({ big: new Uint8Array(100_000) }) as Uint8Array
    expect(parser.decode(frame.subarray(0, 2))).toEqual([])
    expect(parser.decode(frame.subarray(2, 50_000))).toEqual([])
    expect(parser.decode(frame.subarray(50_000))).toHaveLength(1)
  })

  it("rejects an absurd frame length at once and refuses the rest of the stream", () => {
    const parser = framedMsgpack.unsafeMake()
    const oversized = header(maxFrameBytes + 1)
    expect(parser.decode(oversized.subarray(0, 3))).toEqual([])
    expect(() => parser.decode(oversized.subarray(3))).toThrow(RpcSerialization.RpcSerializationError)
    expect(() => parser.decode(encodeAll([{ ok: true }]))).toThrow(RpcSerialization.RpcSerializationError)
  })

  it("rejects an absurd frame length that follows complete frames in the same chunk", () => {
    const parser = framedMsgpack.unsafeMake()
    const stream = concat([encodeAll([{ n: 1 }]), header(0xffff_ffff)])
    expect(() => parser.decode(stream)).toThrow(/maximum size/)
  })

  it("refuses the rest of the stream after a frame whose body does not decode", () => {
    // Shapes are kept across frames: after a body that broke off, nothing later can be trusted.
    const parser = framedMsgpack.unsafeMake()
    const truncatedArray = new Uint8Array([0x92, 0x01])
    expect(() => parser.decode(concat([header(2), truncatedArray]))).toThrow(StreamRefused)
    expect(() => parser.decode(encodeAll([{ after: "error" }]))).toThrow(StreamRefused)
  })

  it.effect("is provided as the RpcSerialization layer with framing included", () =>
    Effect.gen(function*() {
      const serialization = yield* RpcSerialization.RpcSerialization
      expect(serialization.includesFraming).toBe(true)
      expect(serialization).toBe(framedMsgpack)
    }).pipe(Effect.provide(layerFramedMsgpack)))
})

describe("makeStreamParser (one connection of socketClient/socketServer)", () => {
  const entry = (i: number) => ({ _tag: "Request", id: String(i), tag: "RaftMessages", payload: { index: i, term: 3, data: new Uint8Array([i & 0xff]) }, headers: [] })

  it("defines a shape once per connection: later frames of it carry values only", () => {
    const parser = makeStreamParser()
    const first = parser.encode(entry(1)) as Uint8Array
    const second = parser.encode(entry(2)) as Uint8Array
    expect(second.length).toBeLessThan(first.length - 20)
    // A fresh parser on each side, as on a new connection.
    expect(makeStreamParser().decode(concat([first, second]))).toEqual([entry(1), entry(2)])
    // The second frame means nothing without the first: the peer must read the whole stream.
    expect(() => makeStreamParser().decode(second)).toThrow()
  })

  it("reads and is read by framedMsgpack, which defines shapes in every frame (RpcClient, RpcServer)", () => {
    const fromRpc = framedMsgpack.unsafeMake()
    const fromStream = makeStreamParser()
    const toStream = makeStreamParser()
    const toRpc = framedMsgpack.unsafeMake()
    for (let i = 0; i < 5; i++) {
      expect(toStream.decode(fromRpc.encode(entry(i)) as Uint8Array)).toEqual([entry(i)])
      expect(toRpc.decode(fromStream.encode(entry(i)) as Uint8Array)).toEqual([entry(i)])
    }
  })

  it("after a frame that fails to encode, every later frame still decodes on the peer", () => {
    const sender = makeStreamParser()
    const receiver = makeStreamParser()
    expect(receiver.decode(sender.encode(entry(1)) as Uint8Array)).toEqual([entry(1)])
    // A new shape is defined part-way, then encoding throws: the frame is never sent.
    expect(() => sender.encode({ fresh: 1, shape: Symbol("not encodable") })).toThrow()
    const later = [{ fresh: 2, shape: "now fine" }, entry(2), { fresh: 3, shape: "again" }]
    for (const message of later) expect(receiver.decode(sender.encode(message) as Uint8Array)).toEqual([message])
  })

  it("keeps up with more shapes than msgpackr has one-byte ids for", () => {
    const sender = makeStreamParser()
    const receiver = makeStreamParser()
    const shaped = (k: number) => ({ [`key${k % 150}`]: k, common: "x" })
    const messages = Array.from({ length: 600 }, (_, k) => shaped(k))
    expect(receiver.decode(concat(messages.map((m) => sender.encode(m) as Uint8Array)))).toEqual(messages)
  })

  it("refuses a peer that defines shapes beyond the 64 one-byte ids or of absurd size: a connection keeps what it defines", () => {
    const frameOf = (body: Uint8Array) => concat([header(body.length), body])
    // An encoder with two-byte record ids: its 65th shape has an id the decoder does not keep.
    const wide = new Packr({ useRecords: true, sequential: true, maxSharedStructures: 0, maxOwnStructures: 500 })
    const receiver = makeStreamParser()
    const shapes = Array.from({ length: 65 }, (_, k) => ({ [`k${k}`]: k }))
    expect(() => {
      for (const shape of shapes) receiver.decode(frameOf(wide.pack(shape)))
    }).toThrow(StreamRefused)
    const huge = Object.fromEntries(Array.from({ length: 2_000 }, (_, k) => [`key${k}`, k]))
    expect(() => makeStreamParser().decode(makeStreamParser().encode(huge) as Uint8Array)).toThrow(StreamRefused)
    const longKey = { ["x".repeat(100_000)]: 1 }
    expect(() => makeStreamParser().decode(makeStreamParser().encode(longKey) as Uint8Array)).toThrow(StreamRefused)
  })
})

describe("attached bytes (stream encoding)", () => {
  const bytes = (length: number, seed: number) => new Uint8Array(length).map((_, i) => (i * 31 + seed) & 0xff)
  const big = bytes(ATTACH_FROM_BYTES + 5, 1)
  const requestWith = (data: Uint8Array) => ({ _tag: "Request", id: "7", tag: "StageChunk", payload: { versionId: "v", data, checksum: 3 }, headers: [] })
  const parts = (frame: FrameParts): ReadonlyArray<Uint8Array> => (frame instanceof Uint8Array ? [frame] : frame)

  it("sends a request's large payload bytes after the message, the caller's own array uncopied", () => {
    const frame = parts(makeStreamParser().encode(requestWith(big)))
    expect(frame).toHaveLength(2)
    expect(frame[1]).toBe(big)
    expect(frame[0]!.length).toBeLessThan(200)
    const [decoded] = makeStreamParser().decode(concat(frame))
    expect(decoded).toEqual(requestWith(big))
    expect((decoded as ReturnType<typeof requestWith>).payload.data.constructor).toBe(Uint8Array)
  })

  it("keeps small bytes inline: one part, as before", () => {
    const small = bytes(ATTACH_FROM_BYTES - 1, 2)
    const frame = makeStreamParser().encode(requestWith(small))
    expect(frame).toBeInstanceOf(Uint8Array)
    expect(makeStreamParser().decode(frame as Uint8Array)).toEqual([requestWith(small)])
  })

  it("attaches an answer's bytes, whether the value is the bytes or holds them", () => {
    const read = { _tag: "Exit", requestId: "1", exit: { _tag: "Success", value: big } }
    const readPath = { _tag: "Exit", requestId: "2", exit: { _tag: "Success", value: { attributes: { size: 3 }, data: bytes(100_000, 3), more: big } } }
    const failure = { _tag: "Exit", requestId: "3", exit: { _tag: "Failure", cause: { _tag: "Die", defect: "x" } } }
    const encoder = makeStreamParser()
    const frames = [read, readPath, failure].map((message) => parts(encoder.encode(message)))
    expect(frames.map((frame) => frame.length)).toEqual([2, 3, 1])
    expect(makeStreamParser().decode(concat(frames.flat()))).toEqual([read, readPath, failure])
  })

  it("decodes attached and plain frames mixed, cut at any points", () => {
    const attachedMessage = fc.record({
      _tag: fc.constant("Request"),
      id: fc.string({ maxLength: 5 }),
      payload: fc.record({ data: fc.integer({ min: 0, max: 3 }).map((n) => bytes(ATTACH_FROM_BYTES + n * 1000, n)), note: fc.string({ maxLength: 10 }) })
    })
    fc.assert(
      fc.property(
        fc.array(fc.oneof(message, attachedMessage), { minLength: 1, maxLength: 6 }),
        fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 30 }),
        (messages, fractions) => {
          const encoder = makeStreamParser()
          const stream = concat(messages.flatMap((m) => parts(encoder.encode(m))))
          const cuts = [...new Set(fractions.map((f) => Math.floor(f * stream.length)))].sort((a, b) => a - b)
          const decoder = makeStreamParser()
          const decoded: Array<unknown> = []
          let start = 0
          for (const cut of [...cuts, stream.length]) {
            decoded.push(...decoder.decode(stream.subarray(start, cut)))
            start = cut
          }
          // Bytes compared as Buffers: toEqual walks a Uint8Array element by element (25 s for these runs).
          expect(decoded.map(bytesAsHex)).toEqual(messages.map(bytesAsHex))
        }
      ),
      { seed: 20261207, numRuns: 100 }
    )
  })

  /** Feed `stream` to `parser` as a socket with `onread` would: each read fills part of the buffer the parser gives. */
  const readInto = (parser: StreamParser, stream: Uint8Array, readSizes: ReadonlyArray<number>): Array<unknown> => {
    const decoded: Array<unknown> = []
    let at = 0
    for (let i = 0; at < stream.length; i++) {
      const buffer = parser.readBuffer()
      const length = Math.min(buffer.length, stream.length - at, readSizes.length === 0 ? buffer.length : readSizes[i % readSizes.length]!)
      buffer.set(stream.subarray(at, at + length))
      at += length
      decoded.push(...parser.decodeRead(length))
    }
    return decoded
  }

  it("reads in place: plain, attached and large frames, whatever the sizes of the reads", () => {
    const attachedMessage = fc.record({
      _tag: fc.constant("Request"),
      id: fc.string({ maxLength: 5 }),
      payload: fc.record({
        data: fc.integer({ min: 0, max: 3 }).map((n) => bytes(n < 2 ? ATTACH_FROM_BYTES + n * 1000 : READ_IN_PLACE_FROM + n * 1000, n)),
        note: fc.string({ maxLength: 10 })
      })
    })
    // A plain frame past the in-place size: a long string, which is never attached.
    const longPlain = fc.integer({ min: 0, max: 2 }).map((n) => ({ _tag: "Long", text: "x".repeat(READ_IN_PLACE_FROM + n) }))
    fc.assert(
      fc.property(
        fc.array(fc.oneof(message, attachedMessage, longPlain), { minLength: 1, maxLength: 6 }),
        fc.array(fc.integer({ min: 1, max: 100_000 }), { maxLength: 8 }),
        (messages, readSizes) => {
          const encoder = makeStreamParser()
          const stream = concat(messages.flatMap((m) => parts(encoder.encode(m))))
          // Compared after every read: a decoded message must not share the scratch buffer later reads reuse.
          expect(readInto(makeStreamParser(), stream, readSizes).map(bytesAsHex)).toEqual(messages.map(bytesAsHex))
        }
      ),
      { seed: 20261208, numRuns: 60 }
    )
  })

  it("reads the rest of a large frame into the frame's own buffer, and a small one through the scratch buffer", () => {
    const encoder = makeStreamParser()
    const large = concat(parts(encoder.encode(requestWith(bytes(1024 * 1024, 5)))))
    const parser = makeStreamParser()
    const first = parser.readBuffer()
    expect(first.length).toBeLessThan(READ_IN_PLACE_FROM)
    first.set(large.subarray(0, 1000))
    expect(parser.decodeRead(1000)).toEqual([])
    // The frame's length is known: the next read may take all the rest in one go.
    const rest = parser.readBuffer()
    expect(rest.length).toBe(large.length - 1000)
    rest.set(large.subarray(1000))
    const [decoded] = parser.decodeRead(rest.length)
    expect(bytesAsHex(decoded)).toEqual(bytesAsHex(requestWith(bytes(1024 * 1024, 5))))
    expect(parser.readBuffer()).toBe(first)
  })

  it("refuses a frame whose attached bytes do not match its markers, and the rest of the stream", () => {
    const [head, data] = parts(makeStreamParser().encode(requestWith(big)))
    const short = concat([head!, data!.subarray(1)])
    // The header still claims the full length: shorten it by one, so the frame completes a byte early.
    new DataView(short.buffer).setUint32(0, (new DataView(short.buffer).getUint32(0) - 1) >>> 0)
    const parser = makeStreamParser()
    expect(() => parser.decode(short)).toThrow(StreamRefused)
    expect(() => parser.decode(makeStreamParser().encode({ _tag: "Ping" }) as Uint8Array)).toThrow(StreamRefused)
  })

  it("never attaches in frame encoding (RpcClient and RpcServer read one buffer per frame)", () => {
    const frame = framedMsgpack.unsafeMake().encode(requestWith(big))
    expect(frame).toBeInstanceOf(Uint8Array)
    expect(framedMsgpack.unsafeMake().decode(frame as Uint8Array)).toEqual([requestWith(big)])
  })
})
