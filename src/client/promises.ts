/**
 * The Promise API, shaped like node:fs/promises: `connect({ seeds })` gives an object with
 * open/readFile/writeFile/mkdir/readdir/stat/rename/unlink/rmdir/truncate/access and `close()`
 * for the client itself. It runs the Effect SDK on a ManagedRuntime; rejections are node-style
 * errors (see nodeErrors.ts).
 */
import { Effect, Exit, Layer, ManagedRuntime } from "effect"
import { TcpCommunicator } from "../../layers/transport/tcp.ts"
import type { Communicator } from "../services/Communicator.ts"
import type { ClientError } from "./errors.ts"
import { bufferRange, type FileHandle } from "./FileHandle.ts"
import { type Call, fromCause, type SandstoreFsError } from "./nodeErrors.ts"
import type { OpenFlagString } from "./OpenFlags.ts"
import { type ClientOptions, type MkdirOptions, SandstoreClient } from "./SandstoreClient.ts"
import type { Dirent, Stats } from "./Stats.ts"

export type { SandstoreFsError } from "./nodeErrors.ts"

export interface ConnectOptions extends ClientOptions {
  /** the transport (default: TCP) */
  readonly communicator?: Layer.Layer<Communicator>
}

type Run = <A>(effect: Effect.Effect<A, ClientError>, call: Call) => Promise<A>

export interface ReadResult<B> {
  readonly bytesRead: number
  readonly buffer: B
}

export interface WriteResult<B> {
  readonly bytesWritten: number
  readonly buffer: B
}

export interface ReadOptions<B extends Uint8Array> {
  readonly buffer?: B
  readonly offset?: number
  readonly length?: number
  readonly position?: number | null
}

/** node's default buffer for a read without one */
const DEFAULT_READ_BYTES = 16 * 1024

const asBuffer = (bytes: Uint8Array): Buffer => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)

/** A node:fs/promises FileHandle over an SDK handle. */
export class SandstoreFileHandle {
  constructor(private readonly handle: FileHandle, private readonly run: Run) {}

  get path(): string { return this.handle.path }

  private call(syscall: string): Call {
    return { syscall, path: this.handle.path }
  }

  /**
   * `read(buffer, offset?, length?, position?)`, `read({ buffer, offset, length, position })`,
   * or `read(length, position?)` into a fresh buffer.
   */
  read(length: number, position?: number | null): Promise<ReadResult<Buffer>>
  read<B extends Uint8Array = Buffer>(options?: ReadOptions<B>): Promise<ReadResult<B>>
  read<B extends Uint8Array>(buffer: B, offset?: number, length?: number, position?: number | null): Promise<ReadResult<B>>
  read(
    first?: number | Uint8Array | ReadOptions<Uint8Array>,
    second?: number | null,
    third?: number,
    fourth?: number | null
  ): Promise<ReadResult<Uint8Array>> {
    if (typeof first === "number") {
      return this.run(
        Effect.map(this.handle.read(first, second), (data) => ({ bytesRead: data.length, buffer: asBuffer(data) })),
        this.call("read")
      )
    }
    const options: ReadOptions<Uint8Array> = first instanceof Uint8Array
      ? { buffer: first, offset: second ?? 0, ...(third === undefined ? {} : { length: third }), position: fourth ?? null }
      : first ?? {}
    const buffer = options.buffer ?? Buffer.alloc(DEFAULT_READ_BYTES)
    return this.run(
      this.handle.readInto(buffer, {
        offset: options.offset ?? 0,
        ...(options.length === undefined ? {} : { length: options.length }),
        position: options.position ?? null
      }),
      this.call("read")
    )
  }

  /** `write(buffer, offset?, length?, position?)` or `write(string, position?)` (UTF-8). */
  write<B extends Uint8Array>(buffer: B, offset?: number, length?: number, position?: number | null): Promise<WriteResult<B>>
  write(data: string, position?: number | null): Promise<WriteResult<string>>
  write(
    data: Uint8Array | string,
    second?: number | null,
    length?: number,
    position?: number | null
  ): Promise<WriteResult<Uint8Array | string>> {
    if (typeof data === "string") {
      const bytes = Buffer.from(data, "utf8")
      return this.run(
        Effect.map(this.handle.write(bytes, second), (bytesWritten) => ({ bytesWritten, buffer: data })),
        this.call("write")
      )
    }
    const offset = second ?? 0
    const count = length ?? data.length - offset
    return this.run(
      bufferRange(data, offset, count, this.handle.path).pipe(
        Effect.flatMap((slice) => this.handle.write(slice, position)),
        Effect.map((bytesWritten) => ({ bytesWritten, buffer: data }))
      ),
      this.call("write")
    )
  }

  /** Resolves when everything written is durable. */
  sync(): Promise<void> {
    return this.run(this.handle.sync, this.call("fsync"))
  }

  datasync(): Promise<void> {
    return this.run(this.handle.sync, this.call("fdatasync"))
  }

  truncate(length = 0): Promise<void> {
    return this.run(this.handle.truncate(length), this.call("ftruncate"))
  }

  stat(): Promise<Stats> {
    return this.run(this.handle.stat, this.call("fstat"))
  }

  close(): Promise<void> {
    return this.run(this.handle.close, this.call("close"))
  }
}

export interface SandstoreFs {
  /** The id of the client's session, once its first change opened one. */
  readonly sessionId: () => string | undefined
  open(path: string, flags?: OpenFlagString | number, mode?: number): Promise<SandstoreFileHandle>
  readFile(path: string): Promise<Buffer>
  readFile(path: string, options: BufferEncoding | { readonly encoding: BufferEncoding }): Promise<string>
  writeFile(path: string, data: Uint8Array | string, options?: { readonly mode?: number }): Promise<void>
  mkdir(path: string, options?: MkdirOptions): Promise<string | undefined>
  readdir(path: string, options?: { readonly withFileTypes?: false }): Promise<Array<string>>
  readdir(path: string, options: { readonly withFileTypes: true }): Promise<Array<Dirent>>
  stat(path: string): Promise<Stats>
  rename(oldPath: string, newPath: string): Promise<void>
  unlink(path: string): Promise<void>
  rmdir(path: string): Promise<void>
  truncate(path: string, length?: number): Promise<void>
  access(path: string, mode?: number): Promise<void>
  /** Flushes open handles and closes the connections. */
  close(): Promise<void>
}

/** Connects to the first reachable seed; rejects (code EAGAIN) when none answers. */
export const connect = async (options: ConnectOptions): Promise<SandstoreFs> => {
  const layer = SandstoreClient.layer(options).pipe(Layer.provide(options.communicator ?? TcpCommunicator))
  const runtime = ManagedRuntime.make(layer)
  const connected = await runtime.runPromiseExit(SandstoreClient)
  if (Exit.isFailure(connected)) {
    await runtime.dispose()
    throw fromCause(connected.cause, { syscall: "connect", path: options.seeds.join(",") })
  }
  const client = connected.value
  const run: Run = (effect, call) =>
    runtime.runPromiseExit(effect).then((exit) =>
      Exit.isSuccess(exit) ? exit.value : Promise.reject(fromCause(exit.cause, call))
    )

  const fs = {
    sessionId: client.sessionId,
    open: (path: string, flags?: OpenFlagString | number, mode?: number) =>
      run(client.open(path, flags, mode), { syscall: "open", path }).then((handle) =>
        new SandstoreFileHandle(handle, run)
      ),
    readFile: (path: string, options?: BufferEncoding | { readonly encoding: BufferEncoding }) =>
      run(client.readFile(path), { syscall: "open", path }).then((bytes) => {
        const encoding = typeof options === "string" ? options : options?.encoding
        return encoding === undefined ? asBuffer(bytes) : asBuffer(bytes).toString(encoding)
      }),
    writeFile: (path: string, data: Uint8Array | string, options?: { readonly mode?: number }) =>
      run(client.writeFile(path, data, options), { syscall: "open", path }),
    mkdir: (path: string, options?: MkdirOptions) => run(client.mkdir(path, options), { syscall: "mkdir", path }),
    readdir: (path: string, options?: { readonly withFileTypes?: boolean }) =>
      run(client.readdir(path, options), { syscall: "scandir", path }).then((entries) => [...entries]),
    stat: (path: string) => run(client.stat(path), { syscall: "stat", path }),
    rename: (oldPath: string, newPath: string) =>
      run(client.rename(oldPath, newPath), { syscall: "rename", path: oldPath, dest: newPath }),
    unlink: (path: string) => run(client.unlink(path), { syscall: "unlink", path }),
    rmdir: (path: string) => run(client.rmdir(path), { syscall: "rmdir", path }),
    truncate: (path: string, length?: number) => run(client.truncate(path, length), { syscall: "open", path }),
    access: (path: string, mode?: number) => run(client.access(path, mode), { syscall: "access", path }),
    close: () => runtime.dispose()
  }
  return fs as SandstoreFs
}

/** Rejections of the Promise API are node-style errors; this narrows one. */
export const isSandstoreFsError = (error: unknown): error is SandstoreFsError =>
  error instanceof Error && typeof (error as { code?: unknown }).code === "string" &&
  typeof (error as { syscall?: unknown }).syscall === "string"
