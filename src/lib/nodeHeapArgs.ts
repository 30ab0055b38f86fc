/**
 * The V8 heap settings node processes start with (`sandstore cluster up`, chaos, the tests,
 * bench:compare's cluster).
 *
 * Old space. V8 counts the memory of ArrayBuffers against the old generation's allocation
 * limit, which starts small and grows with the live heap (a node's is about 40 MB). A node
 * staging a large file allocates two 8 MiB-sized buffers per piece (the socket's reads and the
 * gathered frame), so it reached the limit every piece or two and ran a full mark-compact each
 * time: 13-18 of them, 0.6-1.1 s of main-thread time per node, for one 256 MiB write. Starting
 * the limit at 256 MB leaves only the collections that V8's external-memory pressure asks for
 * (about one per 64 MB of buffers still held): 6-7 per such write, 0.14-0.36 s. Measured on
 * this project's 2-core VM, fresh 3-node clusters alternately, a 256 MiB file written in 8 MiB
 * pieces: nodes' CPU 7.0-8.1 s -> 5.6-5.8 s, 58.6-64.4 -> 70.7-77.0 MiB/s; resident memory
 * after the write 225-245 MB either way (the malloc settings of allocatorEnv.ts already keep
 * freed buffers). The limit is where collection starts, not a cap.
 *
 * Young generation. A leader under 16 clients of creates filled V8's default 16 MB semi-space
 * ~6 times a second, and each scavenge, copying the requests, fibers and log entries still in
 * flight, took ~8 ms: 531 ms of its main thread in 11 s. With 64 MB semi-spaces it scavenges a
 * quarter as often for about the same cost each. Measured on fresh 3-node clusters alternately
 * (4 pairs, both orders), CPU per create at 16 clients: 1.19 / 0.97 / 1.19 / 1.07 ms ->
 * 1.03 / 0.85 / 0.89 / 0.86 ms; a 256 MiB write unchanged (69-71 -> 71-79 MiB/s, the same
 * resident memory after it). The cost: up to 128 MB of young generation a process may commit.
 */

/** A V8 setting a node process starts with, unless the user gives that setting themselves. */
interface HeapSetting {
  readonly arg: string
  /** Whether an argument sets this setting (any of its spellings, `-` or `_`). */
  readonly setBy: RegExp
}

const HEAP_SETTINGS: ReadonlyArray<HeapSetting> = [
  { arg: "--initial-old-space-size=256", setBy: /^--(initial|max)[-_]old[-_]space[-_]size\b/ },
  { arg: "--max-semi-space-size=64", setBy: /^--(min|max)[-_]semi[-_]space[-_]size\b/ }
]

/** The arguments, before the script, of a node process. */
export const NODE_HEAP_ARGS: ReadonlyArray<string> = HEAP_SETTINGS.map((setting) => setting.arg)

/**
 * The V8 arguments to start a node process with, given its parent's execArgv and environment:
 * each of NODE_HEAP_ARGS, unless the parent was started with that setting of its own (on its
 * command line or in NODE_OPTIONS), which is then the user's choice and left alone.
 */
export const nodeHeapArgs = (
  execArgv: ReadonlyArray<string>,
  env: Readonly<Record<string, string | undefined>>
): ReadonlyArray<string> => {
  const given = [...execArgv, ...(env.NODE_OPTIONS ?? "").split(/\s+/)]
  return HEAP_SETTINGS.filter((setting) => !given.some((arg) => setting.setBy.test(arg))).map((setting) => setting.arg)
}

