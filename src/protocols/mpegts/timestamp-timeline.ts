/**
 * Turns the 33-bit, wrapping 90 kHz PTS/DTS of a transport stream (ISO/IEC 13818-1 2.4.3.7) into one continuous,
 * never-decreasing timeline per publication, across wrap-around and across sender restarts.
 *
 * A restart is a DTS that goes backwards on its own stream, or one that lies more than `jumpTicks` away from the
 * last timestamp of any stream. The new timestamps are then re-anchored so that the stream continues where the
 * frames sent so far ended, plus the wall-clock time that passed without data. The first run keeps the sender's
 * own timestamps (offset 0), so they still match what other tools read from the same stream.
 */

/** The PTS/DTS clock (2.4.3.7): 90 kHz. */
export const TS_CLOCK = 90_000
const WRAP = 2 ** 33
const HALF_WRAP = 2 ** 32

/** The difference b - a of two 33-bit timestamps, taking the shorter way around the wrap. */
export const wrappedDelta = (a: number, b: number): number => {
  const delta = (b - a) % WRAP
  return delta >= HALF_WRAP ? delta - WRAP : delta < -HALF_WRAP ? delta + WRAP : delta
}

export interface MappedTimestamps {
  readonly dts: number
  readonly pts: number
}

/** Timestamps in, output timeline out; one instance per publication, streams told apart by a key ("video"...). */
export class TimestampTimeline {
  private readonly jumpTicks: number
  private refRaw = -1
  private refUnwrapped = 0
  private refWallMillis = 0
  private offset = 0
  /** Last unwrapped input DTS of each stream since the last re-anchor. */
  private readonly lastIn = new Map<string, number>()
  /** Where each stream's output has got to: the end of its last frame. */
  private readonly ends = new Map<string, number>()
  /** Streams without a timestamp since the last re-anchor: their next one must not start before their end. */
  private readonly fresh = new Set<string>()
  /** Times the timeline was re-anchored after a jump. */
  restarts = 0

  constructor(jumpTicks: number) {
    this.jumpTicks = jumpTicks
  }

  /** Maps a 33-bit DTS (and the PTS of the same unit, -1 if none) of `stream`, received at `nowMillis`. */
  map(stream: string, rawDts: number, rawPts: number, nowMillis: number): MappedTimestamps {
    const first = this.refRaw < 0
    const unwrapped = first ? rawDts : this.refUnwrapped + wrappedDelta(this.refRaw, rawDts)
    const last = this.lastIn.get(stream)
    const jumped = Math.abs(unwrapped - this.refUnwrapped) > this.jumpTicks || (last !== undefined && unwrapped < last)
    if (!first && jumped) this.reanchor(unwrapped, nowMillis)
    this.refRaw = rawDts
    this.refUnwrapped = unwrapped
    this.refWallMillis = nowMillis
    this.lastIn.set(stream, unwrapped)
    let dts = unwrapped + this.offset
    if (this.fresh.delete(stream)) {
      const end = this.ends.get(stream) ?? dts
      if (dts < end) {
        // Moving the whole timeline later keeps the streams in sync and every stream's output non-decreasing.
        this.offset += end - dts
        dts = end
      }
    }
    return { dts, pts: rawPts < 0 ? dts : dts + wrappedDelta(rawDts, rawPts) }
  }

  /** Records that `stream`'s output now reaches `end` (the last frame's dts plus its duration). */
  ended(stream: string, end: number): void {
    this.ends.set(stream, end)
  }

  private reanchor(unwrapped: number, nowMillis: number): void {
    let end = -Infinity
    for (const value of this.ends.values()) end = Math.max(end, value)
    if (end === -Infinity) end = this.refUnwrapped + this.offset
    const idle = Math.max(0, Math.round(((nowMillis - this.refWallMillis) * TS_CLOCK) / 1000))
    this.offset = end + idle - unwrapped
    this.lastIn.clear()
    for (const stream of this.ends.keys()) this.fresh.add(stream)
    this.restarts++
  }
}
