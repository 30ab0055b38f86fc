/**
 * Delta debugging (Zeller's ddmin) over a failing set of operations: remove chunks, then
 * single operations, while the rest still fails, until removing any one operation makes it
 * pass (1-minimal). `fails` is a bounded check; a run that cannot decide counts as passing,
 * so what is returned is always a confirmed failure. `maxChecks` bounds the whole shrink.
 */
export const shrinkFailure = <A>(
  items: ReadonlyArray<A>,
  fails: (candidate: ReadonlyArray<A>) => boolean,
  maxChecks: number
): ReadonlyArray<A> => {
  let checks = 0
  const test = (candidate: ReadonlyArray<A>): boolean => checks++ < maxChecks && fails(candidate)
  let current = items
  let granularity = 2
  while (current.length >= 2 && checks < maxChecks) {
    const size = Math.ceil(current.length / granularity)
    const chunks: Array<ReadonlyArray<A>> = []
    for (let i = 0; i < current.length; i += size) chunks.push(current.slice(i, i + size))
    let reduced = false
    for (const chunk of chunks) {
      if (chunks.length > 2 && test(chunk)) {
        current = chunk
        granularity = 2
        reduced = true
        break
      }
    }
    if (!reduced) {
      for (let i = 0; i < chunks.length; i++) {
        const complement = chunks.filter((_, j) => j !== i).flat()
        if (test(complement)) {
          current = complement
          granularity = Math.max(granularity - 1, 2)
          reduced = true
          break
        }
      }
    }
    if (!reduced) {
      if (granularity >= current.length) break
      granularity = Math.min(granularity * 2, current.length)
    }
  }
  return current
}
