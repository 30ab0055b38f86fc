/**
 * How the CLI ends: every expected failure is printed once as `sandstore: CODE: path: message`
 * and becomes an exit status (1 for a failed operation, 2 for bad arguments, which @effect/cli
 * has already explained with usage). Only defects reach the runtime's own error reporting.
 */
import { ValidationError } from "@effect/cli"
import type { PlatformError } from "@effect/platform/Error"
import type { Teardown } from "@effect/platform/Runtime"
import { Cause, Console, Data, Effect, Exit, Option } from "effect"
import type { ClientError } from "../client/errors.ts"

/** Ends the process with `code`; the message, if any, has been printed. */
export class CliExit extends Data.TaggedError("CliExit")<{ readonly code: number }> {}

export const EXIT_FAILURE = 1
export const EXIT_USAGE = 2

const isClientError = (error: unknown): error is ClientError =>
  typeof error === "object" && error !== null && "code" in error && "_tag" in error && "message" in error &&
  typeof (error as { code: unknown }).code === "string"

/** `sandstore: ENOENT: /a/b: not found` */
export const describeClientError = (error: ClientError): string => {
  const path = "path" in error && error.path !== undefined ? `${error.path}: ` : ""
  return `sandstore: ${error.code}: ${path}${error.message}`
}

/** Local file errors: the system's code (ENOENT, EACCES, ...) and the local path. */
export const describePlatformError = (error: PlatformError): string => {
  if (error._tag === "BadArgument") return `sandstore: EINVAL: ${error.message}`
  const code = (error.cause as { code?: unknown } | undefined)?.code
  const path = error.pathOrDescriptor === undefined ? "" : `${error.pathOrDescriptor}: `
  return `sandstore: ${typeof code === "string" ? code : error.reason}: ${path}${error.description ?? error.message}`
}

/** Prints an expected failure and turns it into a CliExit. */
export const reportFailure = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, CliExit, R> =>
  Effect.catchAll(effect, (error: unknown) => {
    if (error instanceof CliExit) return Effect.fail(error)
    if (ValidationError.isValidationError(error)) return Effect.fail(new CliExit({ code: EXIT_USAGE }))
    const line = isClientError(error)
      ? describeClientError(error)
      : typeof error === "object" && error !== null && "_tag" in error &&
          ((error as { _tag: unknown })._tag === "SystemError" || (error as { _tag: unknown })._tag === "BadArgument")
      ? describePlatformError(error as PlatformError)
      : `sandstore: ${String(error)}`
    return Effect.zipRight(Console.error(line), Effect.fail(new CliExit({ code: EXIT_FAILURE })))
  })

/** The exit status of the finished program: 0, the CliExit code, or 1 for anything else. */
export const teardown: Teardown = (exit, onExit) => {
  if (Exit.isSuccess(exit) || Cause.isInterruptedOnly(exit.cause)) return onExit(0)
  const failure = Cause.failureOption(exit.cause)
  onExit(Option.isSome(failure) && failure.value instanceof CliExit ? failure.value.code : EXIT_FAILURE)
}
