/**
 * Places one track's RTP timestamps (32-bit, wrapping, random start: RFC 3550 5.1) on a publication's timeline:
 * unwrapped, measured from an anchor, offset by a base, and never decreasing. A new segment (a reconnect) starts
 * at a new base, so the dts stays continuous across connections whose RTP clocks have nothing in common.
 */

/** The signed distance from `from` to `to` on the 32-bit RTP clock, taking the shorter way round. */
export const rtpDistance = (from: number, to: number): number => (to - from) | 0

export class RtpTimeline {
  /** The dts of the latest frame, or undefined before the first. */
  lastDts: number | undefined
  #anchor: number | undefined
  #base = 0
  #previous: number | undefined
  /** The unwrapped distance of the previous timestamp from the anchor. */
  #elapsed = 0
  #started = false

  /** Whether `start` was called for the current segment. */
  get started(): boolean {
    return this.#started
  }

  /**
   * Begins a segment: RTP timestamp `anchor` (e.g. from RTP-Info; the first frame's when undefined) will be at dts
   * `base`. No dts of the segment is below `base`, nor below the last dts of the segments before it.
   */
  start(anchor: number | undefined, base: number): void {
    this.#anchor = anchor
    this.#base = Math.max(base, this.lastDts ?? base)
    this.#previous = undefined
    this.#elapsed = 0
    this.#started = true
  }

  /** Ends the segment; the next frame waits for `start`. */
  stop(): void {
    this.#started = false
  }

  /** The dts of a frame with RTP timestamp `timestamp`: unwrapped, anchored, and clamped to never decrease. */
  toDts(timestamp: number): number {
    if (this.#previous === undefined) {
      this.#anchor ??= timestamp
      this.#elapsed = rtpDistance(this.#anchor, timestamp)
    } else {
      this.#elapsed += rtpDistance(this.#previous, timestamp)
    }
    this.#previous = timestamp
    const dts = Math.max(this.#base + this.#elapsed, this.lastDts ?? this.#base)
    this.lastDts = dts
    return dts
  }
}
