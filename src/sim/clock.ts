/**
 * Simulated time: a Clock whose sleeps wait in a timer queue until the simulation's driver
 * moves time to the earliest of them. Effect's TestClock would do, but `TestClock.adjust`
 * first polls every fiber for suspension across real zero-delay timer turns — about a
 * millisecond of wall time per step, and a step whose ordering depends on wall time. Here a
 * step is: move `now` to the whole millisecond at or after the next timer, resume every sleeper
 * due by then (in time order, then the order they went to sleep), and let the event loop
 * settle. Nothing else moves time.
 */
import { Clock, Duration, Effect } from "effect"
import { afterSettling } from "./scheduler.ts"

interface Timer {
  readonly at: number
  readonly seq: number
  readonly wake: () => void
  cancelled: boolean
}

const before = (a: Timer, b: Timer) => a.at < b.at || (a.at === b.at && a.seq < b.seq)

/** A binary min-heap of timers by (time, order of creation). */
class TimerHeap {
  private readonly items: Array<Timer> = []
  get size() {
    return this.items.length
  }
  push(timer: Timer) {
    const items = this.items
    items.push(timer)
    let i = items.length - 1
    while (i > 0) {
      const parent = (i - 1) >> 1
      if (!before(items[i]!, items[parent]!)) break
      ;[items[i], items[parent]] = [items[parent]!, items[i]!]
      i = parent
    }
  }
  peek(): Timer | undefined {
    return this.items[0]
  }
  pop(): Timer | undefined {
    const items = this.items
    const top = items[0]
    const last = items.pop()
    if (top === undefined || last === undefined || items.length === 0) return top
    items[0] = last
    let i = 0
    while (true) {
      const left = 2 * i + 1
      const right = left + 1
      let smallest = i
      if (left < items.length && before(items[left]!, items[smallest]!)) smallest = left
      if (right < items.length && before(items[right]!, items[smallest]!)) smallest = right
      if (smallest === i) break
      ;[items[i], items[smallest]] = [items[smallest]!, items[i]!]
      i = smallest
    }
    return top
  }
}

export class SimulatedClock implements Clock.Clock {
  readonly [Clock.ClockTypeId]: Clock.ClockTypeId = Clock.ClockTypeId
  private now = 0
  private seq = 0
  private readonly timers = new TimerHeap()

  /** Whole milliseconds, as a real Clock reports them (sleeps may end between two). */
  unsafeCurrentTimeMillis(): number {
    return Math.floor(this.now)
  }
  unsafeCurrentTimeNanos(): bigint {
    return BigInt(Math.round(this.now * 1_000_000))
  }
  readonly currentTimeMillis: Effect.Effect<number> = Effect.sync(() => Math.floor(this.now))
  readonly currentTimeNanos: Effect.Effect<bigint> = Effect.sync(() => this.unsafeCurrentTimeNanos())

  sleep(duration: Duration.Duration): Effect.Effect<void> {
    return Effect.async<void>((resume) => {
      const millis = Duration.toMillis(duration)
      if (!(millis > 0)) {
        resume(Effect.void)
        return
      }
      const timer: Timer = { at: this.now + millis, seq: this.seq++, wake: () => resume(Effect.void), cancelled: false }
      this.timers.push(timer)
      return Effect.sync(() => {
        timer.cancelled = true
      })
    })
  }

  /**
   * Call `callback` when time reaches `at` (simulated milliseconds), in order with the sleepers
   * due then, unless the returned function cancels it first.
   */
  schedule(at: number, callback: () => void): () => void {
    const timer: Timer = { at: Math.max(at, this.now), seq: this.seq++, wake: callback, cancelled: false }
    this.timers.push(timer)
    return () => {
      timer.cancelled = true
    }
  }

  /** The time of the earliest pending sleep, if any. */
  private nextTime(): number | undefined {
    while (this.timers.peek()?.cancelled === true) this.timers.pop()
    return this.timers.peek()?.at
  }

  /** Move time to the next pending sleep (not past `limit`) and wake every sleeper due then; false if none is due by `limit`. */
  private step(limit: number): boolean {
    const next = this.nextTime()
    if (next === undefined || next > limit) {
      this.now = Math.max(this.now, limit)
      return false
    }
    // Whole milliseconds: sleepers due within the same millisecond wake together (late by less
    // than one, as real timers are), which keeps the number of steps down.
    this.now = Math.max(this.now, Math.min(limit, Math.ceil(next)))
    while (true) {
      const timer = this.timers.peek()
      if (timer === undefined || timer.at > this.now) break
      this.timers.pop()
      if (!timer.cancelled) timer.wake()
    }
    return true
  }

  /**
   * Settle, then step time until `done()` holds or time reaches `limit`; then settle again. The
   * loop is plain callbacks on the event loop, not a fiber's: it runs once per step, thousands
   * of times per simulated second.
   */
  readonly runUntil = (done: () => boolean, limit: number): Effect.Effect<void> =>
    Effect.async<void>((resume) => {
      let stopped = false
      const next = () => {
        if (stopped) return
        try {
          if (done() || this.now >= limit) return resume(Effect.void)
          this.step(limit)
        } catch (error) {
          // A timer's callback threw: a defect of the run, not a crash of the process.
          stopped = true
          return resume(Effect.die(error))
        }
        afterSettling(next)
      }
      afterSettling(next)
      return Effect.sync(() => {
        stopped = true
      })
    })

  get millis(): number {
    return this.now
  }
}

/**
 * One node's clock in a simulation: its wall clock (`currentTimeMillis`) is simulated time plus
 * a skew that the nemesis can change (a clock that is off, or jumps), while its monotonic clock
 * (`currentTimeNanos`) and its sleeps follow simulated time exactly, as a real machine's do.
 */
export class NodeClock implements Clock.Clock {
  readonly [Clock.ClockTypeId]: Clock.ClockTypeId = Clock.ClockTypeId
  /** Milliseconds this node's wall clock is ahead of simulated time (negative: behind). */
  skewMillis = 0

  constructor(private readonly time: SimulatedClock) {}

  unsafeCurrentTimeMillis(): number {
    return Math.max(0, this.time.unsafeCurrentTimeMillis() + Math.round(this.skewMillis))
  }
  unsafeCurrentTimeNanos(): bigint {
    return this.time.unsafeCurrentTimeNanos()
  }
  readonly currentTimeMillis: Effect.Effect<number> = Effect.sync(() => this.unsafeCurrentTimeMillis())
  readonly currentTimeNanos: Effect.Effect<bigint> = Effect.sync(() => this.unsafeCurrentTimeNanos())
  sleep(duration: Duration.Duration): Effect.Effect<void> {
    return this.time.sleep(duration)
  }
}
