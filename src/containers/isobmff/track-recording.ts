/**
 * One track of a recording in progress: maps the core model's dts/pts onto the MP4 media timeline and buffers
 * the track's bytes until the recorder writes them as one chunk. Plain code, run once per frame.
 */
import type { Frame, Track } from "../../media/frame.ts"
import { aacSampleRate } from "./sample-entry.ts"
import { SampleTable } from "./sample-table.ts"

/** H.264 media timescale: the 90 kHz clock of MPEG systems, which every common frame rate divides evenly. */
export const VIDEO_MEDIA_TIMESCALE = 90_000
/** Samples per AAC frame (ISO/IEC 14496-3 4.5.1.1; AAC-LC and the core of HE-AAC). */
export const AAC_FRAME_SAMPLES = 1024
/** Duration of a lone video sample when no delta is known: one frame at 30 fps. */
const DEFAULT_VIDEO_DURATION = VIDEO_MEDIA_TIMESCALE / 30

/** The media timescale MP4 uses for a track: 90 kHz for video, the AAC sampling rate for audio. */
export const mediaTimescaleOf = (track: Track): number =>
  track.kind === "video" ? VIDEO_MEDIA_TIMESCALE : aacSampleRate(track.config) ?? track.sampleRate

/** An empty sample table for `track`: audio samples are all sync samples. */
export const sampleTableFor = (track: Track): SampleTable =>
  track.kind === "video" ? new SampleTable(false, DEFAULT_VIDEO_DURATION) : new SampleTable(true, AAC_FRAME_SAMPLES)

export class TrackRecording {
  readonly index: number
  readonly track: Track
  readonly mediaTimescale: number
  readonly startOffset: number | undefined
  readonly samples: SampleTable
  /** Media ticks per source tick. */
  readonly #scale: number
  readonly #isVideo: boolean
  #firstDts = 0
  #lastDts = 0
  /** Seconds on the tracks' shared clock at which the first sample is presented. */
  presentationStart = 0
  /** The track record is in the journal. */
  journaled = false

  /** Bytes of the samples not yet written, in decode order. */
  pending: Buffer
  pendingBytes = 0
  /** Index of the first pending sample, its decode time and the sync list length when it came. */
  pendingFirst = 0
  pendingBase = 0
  pendingSyncStart = 0

  constructor(index: number, track: Track, startOffset: number | undefined) {
    this.index = index
    this.track = track
    this.startOffset = startOffset
    this.mediaTimescale = mediaTimescaleOf(track)
    this.#isVideo = track.kind === "video"
    this.#scale = this.mediaTimescale / track.timescale
    this.samples = sampleTableFor(track)
    this.pending = Buffer.allocUnsafe(this.#isVideo ? 64 * 1024 : 8 * 1024)
  }

  get pendingCount(): number {
    return this.samples.sampleCount - this.pendingFirst
  }

  /** Whether `frame` can follow the samples so far; undefined when it can, else why not. */
  rejects(frame: Frame): "NotKeyframe" | "DtsOutOfOrder" | undefined {
    if (this.samples.sampleCount === 0) return this.#isVideo && !frame.keyframe ? "NotKeyframe" : undefined
    return frame.dts < this.#lastDts ? "DtsOutOfOrder" : undefined
  }

  /**
   * Decode time of `frame` in media ticks from the first sample. Video converts its dts exactly (rounded once,
   * never accumulated). AAC advances by 1024 samples per frame, since millisecond timestamps would jitter the
   * durations, and jumps to the timestamp only when it runs half a frame or more ahead (frames were lost).
   */
  decodeTimeOf(frame: Frame): number {
    if (this.samples.sampleCount === 0) return 0
    const measured = Math.round((frame.dts - this.#firstDts) * this.#scale)
    if (this.#isVideo) return measured
    const expected = this.samples.lastDecodeTime + AAC_FRAME_SAMPLES
    return measured - expected >= AAC_FRAME_SAMPLES / 2 ? measured : expected
  }

  /** Records the sample (at `decodeTime` from `decodeTimeOf`) and buffers its bytes. */
  add(frame: Frame, decodeTime: number): void {
    const size = frame.data.length
    if (this.samples.sampleCount === 0) {
      this.#firstDts = frame.dts
      this.presentationStart = (this.#isVideo ? frame.pts : frame.dts) / this.track.timescale
    }
    // pts - dts in media ticks; AAC has no reordering.
    const compositionOffset = this.#isVideo ? Math.round((frame.pts - this.#firstDts) * this.#scale) - decodeTime : 0
    if (this.pendingFirst === this.samples.sampleCount) {
      this.pendingBase = decodeTime
      this.pendingSyncStart = this.samples.syncSamples.length
    }
    if (this.pendingBytes + size > this.pending.length) {
      const grown = Buffer.allocUnsafe(Math.max(this.pendingBytes + size, this.pending.length * 2))
      this.pending.copy(grown, 0, 0, this.pendingBytes)
      this.pending = grown
    }
    this.pending.set(frame.data, this.pendingBytes)
    this.pendingBytes += size
    this.samples.add(size, decodeTime, compositionOffset, frame.keyframe)
    this.#lastDts = frame.dts
  }

  /** The pending samples became a chunk at `offset` in the data file. */
  chunkWritten(offset: number): void {
    this.samples.addChunk(offset, this.pendingCount)
    this.pendingFirst = this.samples.sampleCount
    this.pendingBytes = 0
  }

  /** The pending samples could not be written: forget them. */
  dropPending(): void {
    this.samples.truncate(this.pendingFirst, this.samples.chunkCount)
    this.pendingBytes = 0
  }

  /** Seconds of media recorded, counting the last sample's estimated duration. */
  get durationSeconds(): number {
    return this.samples.mediaDuration / this.mediaTimescale
  }
}
