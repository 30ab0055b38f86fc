/**
 * Admission: how much work a node takes on at once. Every request it serves (a client's, or
 * another node's chunk transfer) is admitted against limits on requests and payload bytes in
 * flight, per connection and for the whole node; past them it is refused at once with Busy and
 * a retry hint — nothing of it done — so a flood of clients costs the node bounded memory and
 * every client a backoff, never the node its life.
 */
import { Context, type Effect } from "effect"
import type { Busy } from "../domain/errors.ts"

export interface AdmissionLimits {
  /** Requests in flight on the node / on one connection. */
  readonly maxRequests: number
  readonly maxRequestsPerConnection: number
  /** Payload bytes of the requests in flight on the node / on one connection. */
  readonly maxBytes: number
  readonly maxBytesPerConnection: number
  /** What a refused client is told to wait before retrying. */
  readonly retryAfterMillis: number
}

export const DEFAULT_ADMISSION_LIMITS: AdmissionLimits = {
  maxRequests: 1024,
  maxRequestsPerConnection: 256,
  maxBytes: 512 * 1024 * 1024,
  maxBytesPerConnection: 128 * 1024 * 1024,
  retryAfterMillis: 50
}

export interface AdmissionStats {
  readonly requests: number
  readonly bytes: number
  /** The most requests and bytes ever in flight at once. */
  readonly peakRequests: number
  readonly peakBytes: number
  /** Requests refused with Busy so far. */
  readonly refused: number
}

export interface AdmissionShape {
  /**
   * Run `effect` for a request of `bytes` payload bytes on `connection`, or refuse it with Busy
   * when it would exceed a limit. A request alone on its connection (and on the node) is always
   * admitted, so one larger than a limit still gets through, one at a time.
   */
  readonly admit: <A, E, R>(connection: number, bytes: number, effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E | Busy, R>
  readonly stats: Effect.Effect<AdmissionStats>
}

export class Admission extends Context.Tag("sandstore/Admission")<Admission, AdmissionShape>() {}
