/**
 * The loopback network's own throughput, for scale: the same pieces sent over one Node `net`
 * connection on 127.0.0.1 to a server in this process, which counts them and answers one byte
 * when it has them all (write); then the server sends them and this side counts and checks
 * each piece as it completes (read). Pure transport — no framing, no codec, no disk — so it is
 * the ceiling any remote read could reach here.
 */
import { Clock, Effect } from "effect"
import { createServer, type Server, type Socket, connect } from "node:net"
import { UnexpectedResult } from "../../src/bench/measure.ts"
import type { FilePieces } from "./filePieces.ts"
import type { Throughput } from "./results.ts"

const secondsSince = (start: bigint) => Effect.map(Clock.currentTimeNanos, (now) => Number(now - start) / 1e9)

const failure = (what: string) => (cause: unknown) =>
  new UnexpectedResult({ message: `loopback ${what}: ${cause instanceof Error ? cause.message : String(cause)}` })

/** Write every piece, waiting for the socket to drain whenever it asks to. */
const sendAll = async (socket: Socket, pieces: FilePieces): Promise<void> => {
  for (let index = 0; index < pieces.count; index++) {
    if (!socket.write(pieces.piece(index))) await new Promise<void>((resolve) => socket.once("drain", resolve))
  }
}

/** A server on a free loopback port: it receives `total` bytes and answers 1 byte, or on "r" sends the pieces. */
const listen = (pieces: FilePieces) =>
  Effect.acquireRelease(
    Effect.tryPromise({
      try: () =>
        new Promise<Server>((resolve, reject) => {
          const server = createServer((socket) => {
            let received = 0
            socket.on("data", (data: Buffer) => {
              if (received === 0 && data.length === 1 && data[0] === 0x72 /* "r" */) {
                sendAll(socket, pieces).catch(() => socket.destroy())
                return
              }
              received += data.length
              if (received === pieces.fileSize) socket.write(new Uint8Array([1]))
            })
            socket.on("error", () => socket.destroy())
          })
          server.once("error", reject)
          server.listen(0, "127.0.0.1", () => resolve(server))
        }),
      catch: failure("listen")
    }),
    (server) => Effect.sync(() => server.close())
  )

const open = (port: number) =>
  Effect.acquireRelease(
    Effect.tryPromise({
      try: () =>
        new Promise<Socket>((resolve, reject) => {
          const socket = connect(port, "127.0.0.1", () => resolve(socket))
          socket.once("error", reject)
        }),
      catch: failure("connect")
    }),
    (socket) => Effect.sync(() => socket.destroy())
  )

export const loopbackBaseline = (pieces: FilePieces) =>
  Effect.scoped(Effect.gen(function*() {
    const server = yield* listen(pieces)
    const port = (server.address() as { port: number }).port

    const writer = yield* open(port)
    const writeStart = yield* Clock.currentTimeNanos
    yield* Effect.tryPromise({
      try: () =>
        new Promise<void>((resolve, reject) => {
          writer.once("data", () => resolve())
          writer.once("error", reject)
          sendAll(writer, pieces).catch(reject)
        }),
      catch: failure("write")
    })
    const write: Throughput = { bytes: pieces.fileSize, seconds: yield* secondsSince(writeStart) }

    const reader = yield* open(port)
    const readStart = yield* Clock.currentTimeNanos
    const bad = yield* Effect.tryPromise({
      try: () =>
        new Promise<number | undefined>((resolve, reject) => {
          // Each piece is gathered as it arrives (one copy, as any client must) and checked when complete.
          let index = 0
          let piece = new Uint8Array(Math.min(pieces.pieceBytes, pieces.fileSize))
          let filled = 0
          reader.on("data", (data: Buffer) => {
            let at = 0
            while (at < data.length) {
              const take = Math.min(piece.length - filled, data.length - at)
              piece.set(data.subarray(at, at + take), filled)
              filled += take
              at += take
              if (filled === piece.length) {
                if (!pieces.matches(index, piece)) return resolve(index)
                index++
                if (index === pieces.count) return resolve(undefined)
                piece = new Uint8Array(Math.min(pieces.pieceBytes, pieces.fileSize - pieces.offset(index)))
                filled = 0
              }
            }
          })
          reader.once("error", reject)
          reader.write("r")
        }),
      catch: failure("read")
    })
    if (bad !== undefined) return yield* new UnexpectedResult({ message: `loopback read: piece ${bad} differs from what was sent` })
    const read: Throughput = { bytes: pieces.fileSize, seconds: yield* secondsSince(readStart) }
    return { write, read }
  }))
