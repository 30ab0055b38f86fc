/**
 * glibc malloc settings for the processes that move chunk-sized buffers (nodes, benchmarks).
 *
 * Node allocates every ArrayBuffer's memory with malloc. glibc serves an 8 MiB request by
 * mapping fresh pages and, once V8's collector frees a batch of them, hands the memory back to
 * the kernel (munmap, or trimming the heap's top); the next buffer then takes a page fault
 * for every 4 KiB it touches. Measured on this project's 2-core VM, reading a 256 MiB file
 * three times in 8 MiB pieces: 135k-178k page faults and 5.7-7.2 s of client CPU by default,
 * 36k-40k faults and 3.7-4.4 s with these settings; reads 104-155 -> 160-273 MiB/s with the
 * nodes run the same way. Keeping requests up to 32 MiB on the heap (the largest threshold
 * glibc accepts on 64-bit) and trimming only past 256 MiB free lets freed buffers be reused
 * as they are. Other allocators (macOS, musl) ignore the variables.
 */
export const LARGE_BUFFER_MALLOC_ENV: Readonly<Record<string, string>> = {
  MALLOC_MMAP_THRESHOLD_: String(32 * 1024 * 1024),
  MALLOC_TRIM_THRESHOLD_: String(256 * 1024 * 1024)
}

/**
 * The variables to add to a child's environment: the settings above, unless the parent's
 * environment already sets any malloc variable (the user's choice wins, whole).
 */
export const allocatorEnv = (parent: Readonly<Record<string, string | undefined>>): Readonly<Record<string, string>> =>
  Object.keys(parent).some((name) => name.startsWith("MALLOC_")) ? {} : LARGE_BUFFER_MALLOC_ENV

/** Whether a process with `env` on this platform runs without the settings and would gain from them (glibc only reads them on Linux here). */
export const lacksAllocatorSettings = (env: Readonly<Record<string, string | undefined>>): boolean =>
  process.platform === "linux" && Object.keys(allocatorEnv(env)).length > 0

/** The malloc variables of `env`, for a benchmark's report ("default malloc" when none). */
export const describeAllocator = (env: Readonly<Record<string, string | undefined>>): string => {
  const set = Object.entries(env).filter(([name]) => name.startsWith("MALLOC_")).map(([name, value]) => `${name}=${value}`)
  return set.length === 0 ? "default malloc" : set.sort().join(" ")
}

/**
 * For a benchmark's entry point: glibc reads these settings once, at start, so a process
 * without them runs `node ...args` again as a child with them (same terminal) and exits as it
 * does. True when the caller is that child, or the settings need no rerun (set already, or
 * not Linux); the parent never returns.
 */
export const rerunWithAllocatorSettings = async (args: ReadonlyArray<string>): Promise<true> => {
  if (!lacksAllocatorSettings(process.env)) return true
  const { spawnSync } = await import("node:child_process")
  const child = spawnSync(process.execPath, [...process.execArgv, ...args], {
    stdio: "inherit",
    env: { ...process.env, ...LARGE_BUFFER_MALLOC_ENV }
  })
  process.exit(child.status ?? 1)
}
