/**
 * Large byte arrays travel beside the codec, not inside it: a chunk's bytes in a request's
 * payload or an answer's value are replaced by a marker before msgpack encodes the message, and
 * sent as they are after the encoded message. The sender writes them to the socket without a
 * copy, and the receiver gets them as views of the frame it has already gathered. msgpack
 * would copy 8 MiB into its own buffer for every peer a chunk goes to.
 *
 * Only where bytes are carried is looked at, so the walk costs a few property reads: a
 * request's `payload` and a successful answer's `value`, each itself or one level into it.
 */

/**
 * The request header by which a client says it reads answers with attached bytes (socketClient
 * sends it with its first request on a connection). A server attaches bytes only to answers for
 * such a client, so @effect/rpc's RpcClient, which does not, still talks to socketServer.
 */
export const READS_ATTACHED_HEADER = "sandstore-reads-attached-bytes"

/** Byte arrays from this size on are attached; smaller ones cost less to encode inline. */
export const ATTACH_FROM_BYTES = 64 * 1024

/** The key of a marker object, `{ [MARKER]: length }`: no field of ours starts with NUL. */
const MARKER = "\u0000attached"

const isPlainObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value) && !(value instanceof Uint8Array)

const isMarker = (value: unknown): value is Record<typeof MARKER, number> =>
  isPlainObject(value) && typeof value[MARKER] === "number"

/** `value`, or one level into it, with large byte arrays moved to `attached`. */
const detachIn = (value: unknown, attached: Array<Uint8Array>): unknown => {
  if (value instanceof Uint8Array) {
    if (value.length < ATTACH_FROM_BYTES) return value
    attached.push(value)
    return { [MARKER]: value.length }
  }
  if (!isPlainObject(value)) return value
  let copy: Record<string, unknown> | undefined
  for (const key in value) {
    const field = value[key]
    if (field instanceof Uint8Array && field.length >= ATTACH_FROM_BYTES) {
      copy ??= { ...value }
      attached.push(field)
      copy[key] = { [MARKER]: field.length }
    }
  }
  return copy ?? value
}

/** Where a message carries bytes: a request's payload, a successful exit's value. */
const carrier = (message: unknown): "payload" | "exit" | undefined => {
  if (!isPlainObject(message)) return undefined
  if (message._tag === "Request") return "payload"
  if (message._tag === "Exit" && isPlainObject(message.exit) && message.exit._tag === "Success") return "exit"
  return undefined
}

/** The message with its large byte arrays replaced by markers, and those arrays in order (none: the message itself). */
export const detach = (message: unknown): { readonly message: unknown; readonly attached: ReadonlyArray<Uint8Array> } => {
  const attached: Array<Uint8Array> = []
  switch (carrier(message)) {
    case "payload": {
      const m = message as Record<string, unknown>
      const payload = detachIn(m.payload, attached)
      return { message: attached.length === 0 ? message : { ...m, payload }, attached }
    }
    case "exit": {
      const m = message as Record<string, unknown> & { exit: Record<string, unknown> }
      const value = detachIn(m.exit.value, attached)
      return { message: attached.length === 0 ? message : { ...m, exit: { ...m.exit, value } }, attached }
    }
    default:
      return { message, attached }
  }
}

/**
 * Put the attached bytes (`region`, right after the encoded message) back where their markers
 * are, as views of it, in the order `detach` took them. Undefined when the markers do not
 * account for the region exactly: the frame was not made by `detach` and cannot be trusted.
 */
export const reattach = (message: unknown, region: Uint8Array): unknown | undefined => {
  let offset = 0
  let broken = false
  const take = (marker: Record<typeof MARKER, number>): Uint8Array => {
    const length = marker[MARKER]
    if (!Number.isSafeInteger(length) || length < 0 || offset + length > region.length) {
      broken = true
      return new Uint8Array(0)
    }
    const bytes = region.subarray(offset, offset + length)
    offset += length
    return bytes
  }
  const attachIn = (value: unknown): unknown => {
    if (isMarker(value)) return take(value)
    if (!isPlainObject(value)) return value
    for (const key in value) {
      const field = value[key]
      if (isMarker(field)) value[key] = take(field)
    }
    return value
  }
  switch (carrier(message)) {
    case "payload": {
      const m = message as Record<string, unknown>
      m.payload = attachIn(m.payload)
      break
    }
    case "exit": {
      const exit = (message as { exit: Record<string, unknown> }).exit
      exit.value = attachIn(exit.value)
      break
    }
  }
  return broken || offset !== region.length ? undefined : message
}
