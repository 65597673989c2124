/**
 * Keeps a transcoder's output on its input's timeline. Per input frame it decides how much silence fills the gap
 * before it (packet loss, DTX), so that the stream fed to the encoder has no holes and cannot drift from the input
 * clock; per output frame (AAC: 1024 samples; Opus: what each packet's TOC says, 960 for 20 ms) it gives the pts,
 * from the frame's position in the output stream. Gaps too long to fill (a publisher that came back after minutes)
 * move the output timestamps forward instead. Plain code, run once per frame.
 */

/** place() result: the frame lies wholly before what was already fed (a duplicate or a late packet). */
export const DROP = -1

/** Samples per AAC-LC frame (ISO/IEC 14496-3 4.5.1.1). */
export const AAC_FRAME_SAMPLES = 1024

export interface TimelineOptions {
  /** Samples per second of the stream fed to the encoder (Opus: 48000, G.711: 8000). */
  readonly inputRate: number
  /** Ticks per second of the input frames' pts. */
  readonly inputTimescale: number
  /** Sample rate of the encoded output, which is also the output frames' timescale. */
  readonly outputRate: number
  /** The smallest silence the input codec can insert, in input samples (Opus: a 20 ms packet; PCM: 1). */
  readonly silenceUnit: number
  /** Gaps longer than this (input samples) are not filled: the output timestamps jump over them. */
  readonly maxFillSamples: number
}

interface Anchor {
  /** Position in the output stream, output samples. */
  readonly position: number
  /** The pts (output timescale) of that position. */
  readonly pts: number
}

export class TranscoderTimeline {
  readonly #options: TimelineOptions
  /** The input time (input samples) of stream position 0, moved by jumps; undefined until the first frame. */
  #origin: number | undefined
  /** Input samples fed to the encoder so far (frames and silence). */
  #fed = 0
  readonly #anchors: Array<Anchor> = []
  #anchor = 0
  /** Samples at the start of the last placed frame that lie before what was fed (PCM can trim them). */
  overlap = 0
  /** Frames dropped by place() because they came too late. */
  lateFrames = 0
  /** Silence samples place() asked for. */
  filledSamples = 0
  /** Gaps too long to fill, and backward jumps of the input clock. */
  jumps = 0

  constructor(options: TimelineOptions) {
    this.#options = options
  }

  /** Input samples fed so far. */
  get fed(): number {
    return this.#fed
  }

  /**
   * Where a frame at `pts` (input timescale) lasting `samples` goes: the silence samples to feed before it, or DROP.
   * Feed nothing when DROP; otherwise feed the silence and the frame, then call advance() with what was fed.
   */
  place(pts: number, samples: number): number {
    const o = this.#options
    const at = Math.round((pts * o.inputRate) / o.inputTimescale)
    this.overlap = 0
    if (this.#origin === undefined) {
      this.#origin = at
      this.#anchors.push({ position: 0, pts: Math.round((pts * o.outputRate) / o.inputTimescale) })
      return 0
    }
    const gap = at - (this.#origin + this.#fed)
    if (gap > o.maxFillSamples) {
      // The stream position only grows, so the last anchor is the one that covers it.
      const last = this.#anchors[this.#anchors.length - 1]!
      const position = Math.round((this.#fed * o.outputRate) / o.inputRate)
      const jump = Math.round((gap * o.outputRate) / o.inputRate)
      this.#anchors.push({ position, pts: last.pts + position - last.position + jump })
      this.#origin += gap
      this.jumps++
      return 0
    }
    if (gap < -o.maxFillSamples) {
      // The input clock went back (against the frame contract): carry on as if the frame came in time.
      this.#origin += gap
      this.jumps++
      return 0
    }
    const silence = Math.round(gap / o.silenceUnit) * o.silenceUnit
    if (silence > 0) {
      this.filledSamples += silence
      return silence
    }
    if (gap <= -samples) {
      this.lateFrames++
      return DROP
    }
    this.overlap = Math.max(0, -gap)
    return 0
  }

  /** Records `samples` input samples fed to the encoder. */
  advance(samples: number): void {
    this.#fed += samples
  }

  /** The pts (output timescale) of the `index`-th AAC frame of the stream, counted from 0; call in order. */
  framePts(index: number): number {
    return this.ptsAt(index * AAC_FRAME_SAMPLES)
  }

  /**
   * The pts (output timescale) of output sample `position` of the stream (0 is the first fed input sample); call
   * with non-decreasing positions. A negative position (an encoder's lookahead before the stream) lies before the
   * first frame's pts.
   */
  ptsAt(position: number): number {
    const anchors = this.#anchors
    while (this.#anchor + 1 < anchors.length && anchors[this.#anchor + 1]!.position <= position) this.#anchor++
    const anchor = anchors[this.#anchor]
    return anchor === undefined ? position : anchor.pts + position - anchor.position
  }
}
