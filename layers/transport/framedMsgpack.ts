/**
 * An RpcSerialization for byte streams: every message is a u32 big-endian length followed by
 * that many bytes of msgpack. The stock msgpack serializer finds message boundaries by
 * re-parsing its whole backlog on every TCP chunk, which collapses throughput when several
 * large messages are in flight; with explicit lengths a partial frame is only collected, and
 * copied once, when its last byte arrives. A connection of socketClient and socketServer may
 * also send frames whose large bytes follow the msgpack part as they are (attachedBytes.ts),
 * marked by the top bit of the length.
 */
import { RpcSerialization } from "@effect/rpc"
import { Layer } from "effect"
import { Packr, RESERVE_START_SPACE, Unpackr } from "msgpackr"
import { copyBytes } from "../../src/lib/copyBytes.ts"
import { unfilledBytes } from "../../src/lib/unfilledBytes.ts"
import { detach, reattach } from "./attachedBytes.ts"

/** Bytes of the length prefix. */
const headerBytes = 4

/**
 * The length prefix's top bit marks a frame with attached bytes (stream encoding only, see
 * attachedBytes.ts): its body is a u32 length of the msgpack part, that part, then the bytes.
 */
const ATTACHED = 0x8000_0000

/**
 * Largest frame body either side accepts. Client transfers are at most 16 MiB; a larger
 * length means a corrupt or hostile stream, which must not make the reader buffer forever.
 */
export const maxFrameBytes = 256 * 1024 * 1024

/**
 * Records make repeated object shapes (readdir pages, log entries) smaller and faster to read.
 * A record's keys are sent once, where the shape first appears, and later objects of that shape
 * refer to it by a one-byte id (64 of them, 0x40-0x7f, reused oldest first). The decoder keeps
 * every definition it has read for the life of the connection (msgpackr's sequential mode),
 * which reads both kinds of encoder below: one that defines its shapes afresh in every frame,
 * and one that defines each shape once per connection. Both ends of a connection must run this
 * framing: a decoder that forgets definitions after each frame cannot read the second kind.
 *
 * The stream encoder is correct only when the peer decodes every frame it produced, in order:
 * true of socketClient and socketServer, which write each frame as they encode it. @effect/rpc's
 * RpcClient encodes its ping frame once and resends the bytes, so its serialization
 * (`framedMsgpack`) defines shapes in every frame. Fresh options objects each time: msgpackr
 * keeps its table of shapes in them.
 */
const RECORD_IDS = 64
const recordOptions = (encoding: "stream" | "frame") =>
  encoding === "stream"
    ? { useRecords: true, sequential: true, maxSharedStructures: 0, maxOwnStructures: RECORD_IDS }
    : { useRecords: true }

/**
 * Bounds on the shapes a peer may define: what a connection's decoder keeps is never more than
 * 64 of them, each of at most this many keys and key characters (ours have a dozen short keys).
 */
const MAX_SHAPE_KEYS = 1024
const MAX_SHAPE_KEY_CHARS = 64 * 1024

/** Why a stream is refused from some frame on: a shape out of bounds, or a body that did not decode. */
export class StreamRefused extends Error {
  readonly _tag = "StreamRefused"
}

/** Rejecting a frame throws the rpc library's own error, so RpcServer closes the socket. */
const frameTooLarge = (bufferSize: number) =>
  new RpcSerialization.RpcSerializationError({
    reason: "BufferSizeExceeded",
    maxBufferSize: maxFrameBytes,
    bufferSize
  })

const readU32 = (bytes: Uint8Array, offset: number): number =>
  ((bytes[offset] << 24) | (bytes[offset + 1] << 16) | (bytes[offset + 2] << 8) | bytes[offset + 3]) >>> 0

const writeU32 = (bytes: Uint8Array, offset: number, value: number): void => {
  bytes[offset] = value >>> 24
  bytes[offset + 1] = (value >>> 16) & 0xff
  bytes[offset + 2] = (value >>> 8) & 0xff
  bytes[offset + 3] = value & 0xff
}

/** A frame's body length, without the attached-bytes mark. */
const readLength = (bytes: Uint8Array, offset: number): number => (readU32(bytes, offset) & ~ATTACHED) >>> 0

const isAttached = (bytes: Uint8Array, offset: number): boolean => (bytes[offset]! & 0x80) !== 0

/** The parts of one frame, written in order: the encoded message, then any attached bytes as they are. */
export type FrameParts = Uint8Array | ReadonlyArray<Uint8Array>

/** The parser of a socketClient/socketServer connection: it may frame a message in several parts. */
export interface StreamParser {
  readonly decode: (input: Uint8Array | string) => ReadonlyArray<unknown>
  /**
   * For a socket's `onread` (socketClient): where its next read should land. Inside a large
   * frame that is the rest of the frame's own buffer, so the bytes arrive in place, with no
   * buffer per read and no gathering copy; otherwise a scratch buffer the parser reuses.
   */
  readonly readBuffer: () => Uint8Array
  /** `length` bytes read into the buffer `readBuffer` gave last: the messages they complete. */
  readonly decodeRead: (length: number) => ReadonlyArray<unknown>
  /** `attach`: whether large bytes may go beside the message (the peer reads such frames); default true. */
  readonly encode: (message: unknown, attach?: boolean) => FrameParts
}

/** Write every part of a frame (the socket's writes of one turn are coalesced into one writev). */
export const writeFrame = (socket: { write: (chunk: Uint8Array) => boolean }, parts: FrameParts): void => {
  if (parts instanceof Uint8Array) socket.write(parts)
  else for (const part of parts) socket.write(part)
}

/**
 * msgpackr decodes binary values as views of its input, of the input's class. Sockets deliver
 * Buffers, whose `slice` does not copy and which compare unequal to Uint8Arrays in tests; a
 * plain view of the same memory makes every decoded binary a plain Uint8Array, without a copy.
 */
const asPlainBytes = (bytes: Uint8Array): Uint8Array =>
  bytes.constructor === Uint8Array ? bytes : new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength)

/** A frame body at least this large is read in place (`readBuffer`) once its length is known. */
export const READ_IN_PLACE_FROM = 256 * 1024

/** Size of the scratch buffer socket reads land in outside a large frame (libuv reads 64 KiB at most by default). */
const SCRATCH_BYTES = 64 * 1024

/**
 * One parser per connection. `decode` keeps the chunks of an incomplete frame in a list and
 * concatenates them once, when the frame is complete; complete frames inside a chunk are
 * decoded in place. After an oversized length the stream has no trustworthy boundaries left,
 * so the parser refuses everything that follows.
 */
const makeParser = (encoding: "stream" | "frame"): StreamParser => {
  const newPackr = () => new Packr(recordOptions(encoding))
  let packr = newPackr()
  const unpackr = new Unpackr({ useRecords: true, sequential: true })
  // The table of shapes, fixed at the 64 one-byte ids: a definition under any other id (msgpackr's
  // two-byte ids) would add a property, which throws, and the stream is refused.
  const shapes = (unpackr as unknown as { readonly structures: Array<ReadonlyArray<string> | undefined> }).structures
  for (let id = 0; id < RECORD_IDS; id++) shapes[id] = undefined
  Object.preventExtensions(shapes)
  const checked = new Array<ReadonlyArray<string> | undefined>(RECORD_IDS).fill(undefined)
  /** Check the shapes defined since the last frame (a new definition is a new array). */
  const checkShapes = () => {
    for (let id = 0; id < RECORD_IDS; id++) {
      const shape = shapes[id]
      if (shape === checked[id]) continue
      if (shape !== undefined) {
        if (shape.length > MAX_SHAPE_KEYS) throw new StreamRefused(`a msgpack record shape of ${shape.length} keys`)
        let chars = 0
        for (const key of shape) chars += key.length
        if (chars > MAX_SHAPE_KEY_CHARS) throw new StreamRefused(`a msgpack record shape of ${chars} characters of keys`)
      }
      checked[id] = shape
    }
  }
  const textEncoder = new TextEncoder()

  // The incomplete frame: its chunks so far (header included), their total size, and the
  // body length once all four header bytes have arrived.
  let pending: Array<Uint8Array> = []
  let pendingBytes = 0
  let pendingBodyBytes = -1
  let rejected: RpcSerialization.RpcSerializationError | StreamRefused | undefined

  // Reading in place (readBuffer/decodeRead): the large frame being filled, header included,
  // and how much of it has arrived; else reads land in `scratch`.
  let inPlace: { readonly frame: Uint8Array; filled: number; readonly attached: boolean } | undefined
  let scratch: Uint8Array | undefined
  let lastRead: Uint8Array | undefined

  const checkLength = (length: number) => {
    if (length > maxFrameBytes) {
      rejected = frameTooLarge(length)
      pending = []
      pendingBytes = 0
      pendingBodyBytes = -1
      throw rejected
    }
  }

  /** The raw header (mark included) of the pending frame, whose first bytes are in `pending` and the rest in `data`. */
  const readSplitHeader = (data: Uint8Array): number => {
    const header = new Uint8Array(headerBytes)
    let filled = 0
    for (const chunk of pending) {
      for (let i = 0; i < chunk.length && filled < headerBytes; i++) header[filled++] = chunk[i]
    }
    for (let i = 0; filled < headerBytes; i++) header[filled++] = data[i]
    return readU32(header, 0)
  }

  /** Whether the incomplete frame carries attached bytes (known once its header is). */
  let pendingAttached = false

  /**
   * The incomplete frame (its length known) in a buffer of its own, with the chunks that arrived
   * so far copied in (`filled` bytes); the parser then holds no incomplete frame. The rest of
   * the buffer is overwritten before it is read, so it is not zero-filled (8 MiB for a chunk).
   */
  const takePending = (): { readonly frame: Uint8Array; readonly filled: number } => {
    const frame = unfilledBytes(headerBytes + pendingBodyBytes)
    let filled = 0
    for (const chunk of pending) {
      frame.set(chunk, filled)
      filled += chunk.length
    }
    pending = []
    pendingBytes = 0
    pendingBodyBytes = -1
    return { frame, filled }
  }

  /** The bodies of the frames that `data` completes, in order (each with its mark); keeps any incomplete rest. */
  const takeFrames = (data: Uint8Array): Array<readonly [body: Uint8Array, attached: boolean]> => {
    const bodies: Array<readonly [Uint8Array, boolean]> = []
    let offset = 0
    if (pendingBytes > 0) {
      const available = data.length
      if (pendingBodyBytes < 0) {
        if (pendingBytes + available < headerBytes) {
          pending.push(data)
          pendingBytes += available
          return bodies
        }
        const header = readSplitHeader(data)
        pendingAttached = (header & ATTACHED) !== 0
        pendingBodyBytes = (header & ~ATTACHED) >>> 0
        checkLength(pendingBodyBytes)
      }
      const missing = headerBytes + pendingBodyBytes - pendingBytes
      if (available < missing) {
        pending.push(data)
        pendingBytes += available
        return bodies
      }
      const attached = pendingAttached
      const { frame, filled } = takePending()
      frame.set(data.subarray(0, missing), filled)
      bodies.push([frame.subarray(headerBytes), attached])
      offset = missing
    }
    while (data.length - offset >= headerBytes) {
      const bodyBytes = readLength(data, offset)
      const attached = isAttached(data, offset)
      checkLength(bodyBytes)
      const end = offset + headerBytes + bodyBytes
      if (end > data.length) {
        pendingBodyBytes = bodyBytes
        pendingAttached = attached
        break
      }
      bodies.push([data.subarray(offset + headerBytes, end), attached])
      offset = end
    }
    if (offset < data.length) {
      pending.push(offset === 0 ? data : data.subarray(offset))
      pendingBytes = data.length - offset
    }
    return bodies
  }

  /** A body of attached bytes: the msgpack part's length, that part, then the bytes its markers name. */
  const unpackAttached = (body: Uint8Array): unknown => {
    if (encoding !== "stream") throw new StreamRefused("attached bytes on a connection that does not use them")
    const messageBytes = body.length < 4 ? -1 : readU32(body, 0)
    if (messageBytes < 0 || 4 + messageBytes > body.length) throw new StreamRefused("a frame with attached bytes whose message overruns it")
    const message = reattach(unpackr.unpack(body.subarray(4, 4 + messageBytes)), body.subarray(4 + messageBytes))
    if (message === undefined) throw new StreamRefused("a frame whose attached bytes do not match its markers")
    return message
  }

  /** Encode `message` as one frame of a header and msgpack, or (stream) with large bytes attached after it. */
  const encodeFrame = (message: unknown, reserve: number): Uint8Array => {
    try {
      const frame = packr.pack(message, RESERVE_START_SPACE | reserve)
      if (frame.length - headerBytes > maxFrameBytes) throw frameTooLarge(frame.length - headerBytes)
      return frame
    } catch (error) {
      // The frame is not sent, but the encoder may have counted shapes it defined as known to
      // the peer. A fresh encoder defines every shape before using it, which any decoder reads.
      packr = newPackr()
      throw error
    }
  }

  /** The messages of complete frame bodies; a body that cannot be read refuses the stream. */
  const decodeBodies = (bodies: ReadonlyArray<readonly [body: Uint8Array, attached: boolean]>): Array<unknown> => {
    const messages = new Array<unknown>(bodies.length)
    try {
      for (let i = 0; i < bodies.length; i++) {
        const [body, attached] = bodies[i]!
        messages[i] = attached ? unpackAttached(body) : unpackr.unpack(body)
        checkShapes()
      }
    } catch (error) {
      // A body that cannot be read may have defined shapes part-way, and the frames after it
      // may use shapes it would have defined: nothing later can be trusted.
      rejected = error instanceof StreamRefused
        ? error
        : new StreamRefused(`an undecodable frame: ${error instanceof Error ? error.message : String(error)}`)
      throw rejected
    }
    return messages
  }

  /** The pending frame, when its length is known and large, moves into a buffer of its own that later reads fill in place. */
  const moveInPlace = () => {
    if (pendingBodyBytes < READ_IN_PLACE_FROM) return
    const attached = pendingAttached
    inPlace = { ...takePending(), attached }
  }

  return {
    decode: (input) => {
      if (rejected !== undefined) throw rejected
      return decodeBodies(takeFrames(typeof input === "string" ? textEncoder.encode(input) : asPlainBytes(input)))
    },
    readBuffer: () => {
      if (inPlace !== undefined) lastRead = inPlace.frame.subarray(inPlace.filled)
      else lastRead = scratch ??= new Uint8Array(SCRATCH_BYTES)
      return lastRead
    },
    decodeRead: (length) => {
      if (rejected !== undefined) throw rejected
      const read = lastRead
      if (read === undefined || length > read.length) throw new StreamRefused("a read longer than the buffer it was given")
      if (inPlace !== undefined && read.buffer === inPlace.frame.buffer) {
        inPlace.filled += length
        if (inPlace.filled < inPlace.frame.length) return []
        const { attached, frame } = inPlace
        inPlace = undefined
        return decodeBodies([[frame.subarray(headerBytes), attached]])
      }
      // The scratch buffer is read into again: what the frames keep (pending chunks, decoded
      // binaries, which are views of their input) must be a copy.
      const messages = decodeBodies(takeFrames(copyBytes(read.subarray(0, length))))
      moveInPlace()
      return messages
    },
    encode: (message, attach = true) => {
      const { attached, message: slim } = encoding === "stream" && attach ? detach(message) : { attached: [], message }
      if (attached.length === 0) {
        // msgpackr writes the body after four reserved bytes, so the frame is one buffer, uncopied.
        const frame = encodeFrame(message, headerBytes)
        writeU32(frame, 0, frame.length - headerBytes)
        return frame
      }
      // Header, message length, message; the attached bytes follow as they are.
      const head = encodeFrame(slim, headerBytes + 4)
      const messageBytes = head.length - headerBytes - 4
      let bodyBytes = 4 + messageBytes
      for (const bytes of attached) bodyBytes += bytes.length
      if (bodyBytes > maxFrameBytes) {
        packr = newPackr() // as in encodeFrame: the unsent head may have defined shapes
        throw frameTooLarge(bodyBytes)
      }
      writeU32(head, 0, (bodyBytes | ATTACHED) >>> 0)
      writeU32(head, headerBytes, messageBytes)
      return [head, ...attached]
    }
  }
}

export const framedMsgpack: RpcSerialization.RpcSerialization["Type"] = RpcSerialization.RpcSerialization.of({
  contentType: "application/vnd.sandstore.framed-msgpack",
  includesFraming: true,
  // Frame encoding never attaches bytes, so every frame is one Uint8Array, as RpcClient expects.
  unsafeMake: () => makeParser("frame") as RpcSerialization.Parser
})

/** The parser of one socketClient/socketServer connection: shapes defined once per connection, large bytes attached. */
export const makeStreamParser = (): StreamParser => makeParser("stream")

export const layerFramedMsgpack: Layer.Layer<RpcSerialization.RpcSerialization> = Layer.succeed(
  RpcSerialization.RpcSerialization,
  framedMsgpack
)
