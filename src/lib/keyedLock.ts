/**
 * A lock per key: `withLock(key, effect)` runs `effect` once no other effect holds `key`, in
 * the order they asked. What a semaphore per key (or per stripe of keys) does, at less than
 * half its cost: `Semaphore.withPermits` is ~43 Effect operations per use, and the chunk store
 * takes a lock for every version it stages, commits or removes. A key with no holder takes no
 * memory.
 *
 * Waiting is interruptible; holding is released however the effect ends. A waiter interrupted
 * just as the lock was handed to it passes the lock on.
 */
import { Effect } from "effect"

export interface KeyedLock {
  readonly withLock: <A, E, R>(key: string, effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
  /**
   * Take `key` (waiting interruptibly), for a holder that gives it back with `unlock` before it
   * is done (call it uninterruptibly, and make sure `unlock` runs exactly once).
   */
  readonly lock: (key: string) => Effect.Effect<void>
  readonly unlock: (key: string) => void
  /** Keys held now (for tests). */
  readonly held: () => number
}

export const makeKeyedLock = (): KeyedLock => {
  /** A key is held while it has an entry; the entry lists who waits for it, in order. */
  const holders = new Map<string, Array<() => void>>()

  const release = (key: string) => {
    const waiters = holders.get(key)
    if (waiters === undefined) return
    const next = waiters.shift()
    if (next === undefined) holders.delete(key)
    else next()
  }

  /** Resolves once `key` is this fiber's. */
  const acquire = (key: string): Effect.Effect<void> =>
    Effect.suspend(() => {
      const waiters = holders.get(key)
      if (waiters === undefined) {
        holders.set(key, [])
        return Effect.void
      }
      return Effect.async<void>((resume) => {
        let granted = false
        const grant = () => {
          granted = true
          resume(Effect.void)
        }
        waiters.push(grant)
        // Interrupted: leave the line, or hand on the lock it was just given.
        return Effect.sync(() => {
          if (granted) return release(key)
          const at = waiters.indexOf(grant)
          if (at >= 0) waiters.splice(at, 1)
        })
      })
    })

  return {
    withLock: (key, effect) =>
      Effect.uninterruptibleMask((restore) =>
        Effect.zipRight(restore(acquire(key)), Effect.ensuring(restore(effect), Effect.sync(() => release(key))))
      ),
    lock: acquire,
    unlock: release,
    held: () => holders.size
  }
}
