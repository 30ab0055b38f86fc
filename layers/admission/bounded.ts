/**
 * Admission by counting what is in flight (see src/services/Admission.ts): a request is let in
 * if it fits the node's and its connection's limits, counted until it completes (however it
 * completes: success, failure or interruption), and refused with Busy otherwise.
 */
import { Effect, Layer } from "effect"
import { Busy } from "../../src/domain/errors.ts"
import { Admission, type AdmissionLimits, type AdmissionStats, DEFAULT_ADMISSION_LIMITS } from "../../src/services/Admission.ts"

interface InFlight {
  requests: number
  bytes: number
}

export const makeBoundedAdmission = (limits: AdmissionLimits = DEFAULT_ADMISSION_LIMITS) =>
  Effect.sync(() => {
    const node: InFlight = { requests: 0, bytes: 0 }
    const connections = new Map<number, InFlight>()
    let peakRequests = 0
    let peakBytes = 0
    let refused = 0

    const fits = (held: InFlight, bytes: number, maxRequests: number, maxBytes: number) =>
      held.requests === 0 || (held.requests + 1 <= maxRequests && held.bytes + bytes <= maxBytes)

    const release = (connection: number, held: InFlight, bytes: number) =>
      Effect.sync(() => {
        node.requests--
        node.bytes -= bytes
        held.requests--
        held.bytes -= bytes
        if (held.requests === 0) connections.delete(connection)
      })

    return Admission.of({
      admit: <A, E, R>(connection: number, bytes: number, effect: Effect.Effect<A, E, R>) =>
        Effect.suspend((): Effect.Effect<A, E | Busy, R> => {
          const held = connections.get(connection) ?? { requests: 0, bytes: 0 }
          if (
            !fits(node, bytes, limits.maxRequests, limits.maxBytes) ||
            !fits(held, bytes, limits.maxRequestsPerConnection, limits.maxBytesPerConnection)
          ) {
            refused++
            return Effect.fail(
              new Busy({
                message: `the node is at its limit of work in flight (${node.requests} requests, ${node.bytes} bytes); try again later`,
                retryAfterMillis: limits.retryAfterMillis
              })
            )
          }
          connections.set(connection, held)
          node.requests++
          node.bytes += bytes
          held.requests++
          held.bytes += bytes
          peakRequests = Math.max(peakRequests, node.requests)
          peakBytes = Math.max(peakBytes, node.bytes)
          return Effect.ensuring(effect, release(connection, held, bytes))
        }),
      stats: Effect.sync((): AdmissionStats => ({ requests: node.requests, bytes: node.bytes, peakRequests, peakBytes, refused }))
    })
  })

export const BoundedAdmission = (limits: AdmissionLimits = DEFAULT_ADMISSION_LIMITS): Layer.Layer<Admission> =>
  Layer.effect(Admission, makeBoundedAdmission(limits))
