/** One-line descriptions of operations, for verdict reasons. */
import type { Operation } from "../history.ts"
import { describeContent } from "./fsModel.ts"
import type { HistoryOp } from "./operations.ts"

export const describeOperation = (op: Operation): string => {
  switch (op.f) {
    case "write":
      return `write ${op.path} ${describeContent(op.content)}`
    case "rename":
      return `rename ${op.path} -> ${op.to}`
    case "truncate":
      return `truncate ${op.path} to ${op.size}`
    case "pwrite":
      return `pwrite ${op.path} seed ${op.seed} at ${op.offset} length ${op.length}`
    case "append":
      return `append record ${op.record} to ${op.path}`
    default:
      return `${op.f} ${op.path}`
  }
}

export const describeHistoryOp = (op: HistoryOp): string => {
  const c = op.completion
  const outcome = c.type === "fail"
    ? `fail ${c.error}`
    : c.type === "open"
    ? "info/open"
    : c.result._tag === "Content"
    ? `ok ${describeContent(c.result.content)}`
    : c.result._tag === "Bytes"
    ? `ok ${c.result.bytes.length} bytes`
    : c.result._tag === "Names"
    ? `ok [${c.result.names.join(", ")}]`
    : "ok"
  return `#${op.id} (client ${op.client}) ${describeOperation(op.op)} => ${outcome}`
}
