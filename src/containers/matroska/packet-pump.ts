/**
 * Feeds a muxer whose `add` is asynchronous from a caller that must stay synchronous: items wait in an ordered
 * queue and are handed over one at a time, each after the previous one's promise settled. The queue's bytes are
 * counted so the owner can refuse work when the muxer (or the disk behind it) falls behind; the first failure
 * stops the pump and is kept, never thrown.
 */

export interface PumpItem {
  /** What the item weighs in the backlog. */
  readonly bytes: number
}

export class PacketPump<Item extends PumpItem> {
  private readonly feed: (item: Item) => Promise<void> | void
  private readonly queue: Array<Item> = []
  private head = 0
  private running = false
  private paused = true
  private waiters: Array<() => void> = []
  private queued = 0
  private failure: unknown = undefined
  private failed = false

  /** `feed` hands one item to the muxer; it may throw or reject, which fails the pump. */
  constructor(feed: (item: Item) => Promise<void> | void) {
    this.feed = feed
  }

  get queuedBytes(): number {
    return this.queued
  }

  get queuedItems(): number {
    return this.queue.length - this.head
  }

  /** The first failure of `feed`, if any (`hasFailed` tells a failure of `undefined` apart). */
  get error(): unknown {
    return this.failure
  }

  get hasFailed(): boolean {
    return this.failed
  }

  push(item: Item): void {
    if (this.failed) return
    this.queue.push(item)
    this.queued += item.bytes
    if (!this.running && !this.paused) this.step()
  }

  /** Starts (or restarts) feeding: items pushed before the muxer was ready wait until this is called. */
  resume(): void {
    this.paused = false
    if (!this.running) this.step()
  }

  /** Stops with `cause` as the failure: what is queued is dropped. */
  fail(cause: unknown): void {
    if (!this.failed) {
      this.failed = true
      this.failure = cause
    }
    this.queue.length = 0
    this.head = 0
    this.queued = 0
    this.running = false
    this.settle()
  }

  /** Settles once everything pushed so far was fed (or the pump failed, or it is paused and empty). */
  drained(): Promise<void> {
    if (!this.running && (this.queuedItems === 0 || this.failed)) return Promise.resolve()
    return new Promise((resolve) => this.waiters.push(resolve))
  }

  private readonly step = (): void => {
    if (this.failed) return
    if (this.head === this.queue.length) {
      this.queue.length = 0
      this.head = 0
      this.running = false
      this.settle()
      return
    }
    if (this.head >= 1024 && this.head * 2 >= this.queue.length) {
      // A pump that never quite catches up would otherwise keep every fed slot.
      this.queue.splice(0, this.head)
      this.head = 0
    }
    const item = this.queue[this.head]!
    this.queue[this.head++] = undefined as unknown as Item
    this.queued -= item.bytes
    this.running = true
    let pending: Promise<void> | void
    try {
      pending = this.feed(item)
    } catch (cause) {
      return this.fail(cause)
    }
    if (pending === undefined) return this.step()
    pending.then(this.step, (cause: unknown) => this.fail(cause))
  }

  private settle(): void {
    const waiters = this.waiters
    this.waiters = []
    for (const resolve of waiters) resolve()
  }
}
