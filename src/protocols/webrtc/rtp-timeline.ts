/**
 * One RTP stream's media clock as a monotonic timeline: the 32-bit RTP timestamps (RFC 3550 5.1) are unwrapped into
 * an unbounded tick count, and a jump no real stream makes (the sender restarted its clock) is bridged with the
 * wall-clock time that passed, so the timeline never goes back and never leaps ahead.
 */

const WRAP = 2 ** 32
const HALF = 2 ** 31

/** Forward steps longer than the wall-clock gap plus this many seconds are taken as a restarted clock. */
const MAX_FORWARD_SLACK_SECONDS = 10
/** Backward steps longer than this are taken as a restarted clock; shorter ones are held at the last time. */
const MAX_BACKWARD_SECONDS = 1

export class RtpTimeline {
  readonly clockRate: number
  /** Discontinuities bridged so far (the sender's clock restarted or jumped). */
  discontinuities = 0
  #last32: number | undefined
  #rawExtended = 0
  #shift = 0
  #lastTicks = 0
  #lastArrivalMs = 0

  constructor(clockRate: number) {
    this.clockRate = clockRate
  }

  /** The signed distance from the previous timestamp to `timestamp`, in ticks, across the 32-bit wrap. */
  #step(timestamp: number): number {
    const delta = (timestamp - this.#last32! + WRAP) % WRAP
    return delta >= HALF ? delta - WRAP : delta
  }

  /** The timeline position (ticks) of a packet with this RTP timestamp, arriving at `arrivalMs` (wall clock). */
  advance(timestamp: number, arrivalMs: number): number {
    const ts = timestamp >>> 0
    if (this.#last32 === undefined) {
      this.#last32 = ts
      this.#rawExtended = ts
      this.#lastTicks = ts
      this.#lastArrivalMs = arrivalMs
      return ts
    }
    const step = this.#step(ts)
    this.#last32 = ts
    this.#rawExtended += step
    let ticks = this.#rawExtended + this.#shift
    const wallTicks = Math.max(0, ((arrivalMs - this.#lastArrivalMs) / 1000) * this.clockRate)
    const tooFar = step > wallTicks + MAX_FORWARD_SLACK_SECONDS * this.clockRate
    const tooFarBack = step < -MAX_BACKWARD_SECONDS * this.clockRate
    if (tooFar || tooFarBack) {
      // Continue from the last position plus the wall-clock gap, and keep that offset for what follows.
      const bridged = this.#lastTicks + Math.max(1, Math.round(wallTicks))
      this.#shift += bridged - ticks
      ticks = bridged
      this.discontinuities++
    } else if (ticks < this.#lastTicks) {
      // A small step back (a reordered frame the buffer let through): hold, never go back.
      ticks = this.#lastTicks
    }
    this.#lastTicks = ticks
    this.#lastArrivalMs = arrivalMs
    return ticks
  }

  /**
   * Where an RTP timestamp from elsewhere (a sender report) lies on this timeline, without moving it: the position
   * nearest to the last one. Undefined before the first packet.
   */
  place(timestamp: number): number | undefined {
    if (this.#last32 === undefined) return undefined
    return this.#rawExtended + this.#shift + this.#step(timestamp >>> 0)
  }
}
