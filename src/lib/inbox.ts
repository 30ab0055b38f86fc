/**
 * A many-producer, one-consumer inbox: producers add items synchronously from anywhere (a
 * fiber, a network callback), the consumer takes everything queued at once and waits while
 * there is nothing. It is what the hot loops (the Raft driver and applier, per-peer senders)
 * need from a queue, at a fraction of the cost of `Queue`: an offer is an array push, a take
 * that finds items is one effect, and a take that waits is woken by the next offer.
 *
 * With a capacity, an offer to a full inbox either drops the oldest item (`"sliding"`, for
 * messages where newer ones are worth more) or refuses the new one (`"dropping"`: `offer`
 * returns false and the producer decides what that means).
 */
import { Effect } from "effect"

export type OverflowPolicy = "sliding" | "dropping"

export interface InboxOptions {
  readonly capacity?: number
  readonly overflow?: OverflowPolicy
}

export class Inbox<A> {
  private items: Array<A> = []
  private head = 0
  private waiter: (() => void) | null = null
  private shut = false
  private readonly capacity: number
  private readonly overflow: OverflowPolicy

  constructor(options: InboxOptions = {}) {
    this.capacity = Math.max(1, options.capacity ?? Number.POSITIVE_INFINITY)
    this.overflow = options.overflow ?? "dropping"
  }

  /** Items waiting. */
  get size(): number {
    return this.items.length - this.head
  }

  /** Adds `item`; false when it was refused (a full "dropping" inbox, or a shut one). */
  offer(item: A): boolean {
    if (this.shut) return false
    if (this.size >= this.capacity) {
      if (this.overflow === "dropping") return false
      this.head++
      // Sliding without a taker: keep the backing array from growing past twice the capacity.
      if (this.head >= this.capacity) {
        this.items = this.items.slice(this.head)
        this.head = 0
      }
    }
    this.items.push(item)
    this.wake()
    return true
  }

  offerAll(items: Iterable<A>): void {
    for (const item of items) this.offer(item)
  }

  /**
   * Everything waiting, oldest first, after waiting for at least one item. Interruptible while
   * it waits. The wait registers no canceler (one costs an uninterruptible region per wait, on
   * the hottest loops): a waiter left behind by an interrupted take only wakes a fiber that has
   * already been resumed, which Effect ignores, and the item it was woken for stays queued.
   */
  readonly takeAll: Effect.Effect<Array<A>> = Effect.suspend(() =>
    this.size > 0
      ? Effect.succeed(this.drain())
      : Effect.async<Array<A>>((resume) => {
        this.waiter = () => resume(Effect.sync(() => this.drain()))
      })
  )

  /**
   * Wait until something is waiting, without taking it (`poll` takes it). Interruptible as
   * `takeAll` is; unlike an interrupted `takeAll` racing a timer, an interrupted wait can never
   * have taken items with it.
   */
  readonly awaitItems: Effect.Effect<void> = Effect.suspend(() =>
    this.size > 0
      ? Effect.void
      : Effect.async<void>((resume) => {
        this.waiter = () => resume(Effect.void)
      })
  )

  /**
   * Everything waiting in `a` and in `b`, after waiting for at least one item in either: one
   * consumer serving two inboxes without a fiber per inbox. Interruptible as `takeAll` is.
   */
  static takeAllOfBoth<A, B>(a: Inbox<A>, b: Inbox<B>): Effect.Effect<readonly [Array<A>, Array<B>]> {
    const both = (): readonly [Array<A>, Array<B>] => [a.poll(), b.poll()]
    return Effect.suspend(() =>
      a.size > 0 || b.size > 0
        ? Effect.sync(both)
        : Effect.async<readonly [Array<A>, Array<B>]>((resume) => {
          const wake = () => {
            a.waiter = null
            b.waiter = null
            resume(Effect.sync(both))
          }
          a.waiter = wake
          b.waiter = wake
        })
    )
  }

  /** Everything waiting now, oldest first (possibly nothing); never waits. */
  poll(): Array<A> {
    return this.size > 0 ? this.drain() : []
  }

  /** Refuse offers from now on and drop what is waiting; returns what was dropped. */
  shutdown(): Array<A> {
    this.shut = true
    return this.drain()
  }

  private drain(): Array<A> {
    const taken = this.head === 0 ? this.items : this.items.slice(this.head)
    this.items = []
    this.head = 0
    return taken
  }

  private wake(): void {
    const waiter = this.waiter
    if (waiter === null) return
    this.waiter = null
    waiter()
  }
}
