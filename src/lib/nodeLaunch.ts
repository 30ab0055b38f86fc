/**
 * How a parent process (`cluster up`, chaos, the tests) starts a node: the V8 arguments of
 * nodeHeapArgs.ts before the script and the malloc variables of allocatorEnv.ts added to the
 * environment, each left out when the parent's own settings already choose it.
 */
import { allocatorEnv } from "./allocatorEnv.ts"
import { nodeHeapArgs } from "./nodeHeapArgs.ts"

export interface NodeLaunch {
  /** The arguments to `process.execPath`: V8 settings, `script`, then its own arguments. */
  readonly args: ReadonlyArray<string>
  /** Variables to add to the parent's environment. */
  readonly env: Readonly<Record<string, string>>
}

export const nodeLaunch = (script: string, scriptArgs: ReadonlyArray<string>): NodeLaunch => ({
  args: [...nodeHeapArgs(process.execArgv, process.env), script, ...scriptArgs],
  env: allocatorEnv(process.env)
})
