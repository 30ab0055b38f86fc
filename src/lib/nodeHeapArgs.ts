/**
 * The V8 heap setting node processes start with (`sandstore cluster up`, chaos, the tests,
 * bench:compare's cluster).
 *
 * V8 counts the memory of ArrayBuffers against the old generation's allocation limit, which
 * starts small and grows with the live heap (a node's is about 40 MB). A node staging a large
 * file allocates two 8 MiB-sized buffers per piece (the socket's reads and the gathered frame),
 * so it reached the limit every piece or two and ran a full mark-compact each time: 13-18 of
 * them, 0.6-1.1 s of main-thread time per node, for one 256 MiB write. Starting the limit at
 * 256 MB leaves only the collections that V8's external-memory pressure asks for (about one
 * per 64 MB of buffers still held): 6-7 per such write, 0.14-0.36 s. Measured on this
 * project's 2-core VM, fresh 3-node clusters alternately, a 256 MiB file written in 8 MiB
 * pieces: nodes' CPU 7.0-8.1 s -> 5.6-5.8 s, 58.6-64.4 -> 70.7-77.0 MiB/s; resident memory
 * after the write 225-245 MB either way (the malloc settings of allocatorEnv.ts already keep
 * freed buffers). The limit is where collection starts, not a cap.
 */

/** The argument, before the script, of a node process. */
export const NODE_HEAP_ARGS: ReadonlyArray<string> = ["--initial-old-space-size=256"]

/** Whether `args` (a process's execArgv or NODE_OPTIONS, split) size V8's old space themselves. */
const sizesOldSpace = (args: ReadonlyArray<string>): boolean =>
  args.some((arg) => /^--(initial|max)[-_]old[-_]space[-_]size\b/.test(arg))

/**
 * The V8 arguments to start a node process with, given its parent's execArgv and environment:
 * NODE_HEAP_ARGS, unless the parent was started with an old-space size of its own (or
 * NODE_OPTIONS gives one), which is then the user's choice and left alone.
 */
export const nodeHeapArgs = (
  execArgv: ReadonlyArray<string>,
  env: Readonly<Record<string, string | undefined>>
): ReadonlyArray<string> =>
  sizesOldSpace(execArgv) || sizesOldSpace((env.NODE_OPTIONS ?? "").split(/\s+/)) ? [] : NODE_HEAP_ARGS

/** Whether this process (a node) runs with V8's default old-space sizing, which NODE_HEAP_ARGS would change. */
export const lacksHeapSettings = (
  execArgv: ReadonlyArray<string>,
  env: Readonly<Record<string, string | undefined>>
): boolean => nodeHeapArgs(execArgv, env).length > 0
