/**
 * Client sessions: the unit of exactly-once. A client names its session with 128 random bits
 * (32 hex digits), so two clients never share one; within it, each request has a sequence
 * number that stays the same across every resend of that request.
 */
import { Schema } from "effect"

export const SessionId = Schema.String.pipe(Schema.pattern(/^[0-9a-f]{32}$/), Schema.brand("SessionId"))
export type SessionId = typeof SessionId.Type

