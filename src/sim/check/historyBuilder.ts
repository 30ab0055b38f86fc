/**
 * Hand-written histories for checker tests and examples: events are appended in call order,
 * ids are assigned in sequence, times advance by one per event.
 */
import type { Content, Event, History, Operation, Result } from "../history.ts"

export class HistoryBuilder {
  private readonly events: Array<Event> = []
  private readonly clients = new Map<number, number>()
  private nextId = 0

  private time(): number {
    return this.events.length
  }

  invoke(client: number, op: Operation): number {
    const id = this.nextId++
    this.clients.set(id, client)
    this.events.push({ type: "invoke", id, client, time: this.time(), op })
    return id
  }

  ok(id: number, result: Result = { _tag: "Done" }): this {
    this.events.push({ type: "ok", id, client: this.clients.get(id)!, time: this.time(), result })
    return this
  }

  fail(id: number, error: string): this {
    this.events.push({ type: "fail", id, client: this.clients.get(id)!, time: this.time(), error })
    return this
  }

  info(id: number, error = "Timeout"): this {
    this.events.push({ type: "info", id, client: this.clients.get(id)!, time: this.time(), error })
    return this
  }

  /** An operation that completes `ok` before the next one starts. */
  run(client: number, op: Operation, result: Result = { _tag: "Done" }): this {
    return this.ok(this.invoke(client, op), result)
  }

  /** An operation that fails with `error` before the next one starts. */
  refused(client: number, op: Operation, error: string): this {
    return this.fail(this.invoke(client, op), error)
  }

  build(): History {
    return [...this.events]
  }
}

export const content = (seed: number, length: number): Content => ({ seed, length })

export const readResult = (value: Content): Result => ({ _tag: "Content", content: value })
