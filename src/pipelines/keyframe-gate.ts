/**
 * The keyframe gate: a recording starts at the first video keyframe. Audio that arrives before it is
 * held in a bounded buffer (record_audio_buffer_max_size packets) and released from just before the
 * keyframe's time on, so audio and video start together. Audio-only streams pass straight through.
 */
import type { Frame } from "../media/frame.ts"

/**
 * Audio up to this long before the opening keyframe is kept. Encoders stamp the first audio frame a few
 * tens of milliseconds ahead of the first video frame (AAC priming, B-frame delay); keeping it records
 * every frame of a stream from its start, and the container places each track at its own start time.
 */
export const AUDIO_LEAD_SECONDS = 0.1

export interface GateInput {
  readonly trackIndex: number
  readonly frame: Frame
  /** The frame's decode time in seconds, on the clock shared by the session's tracks. */
  readonly seconds: number
}

export class KeyframeGate {
  private readonly hasVideo: boolean
  private readonly audioBufferMax: number
  private buffered: Array<GateInput> = []
  private openedAt: number | undefined

  constructor(options: { readonly hasVideo: boolean; readonly audioBufferMax: number }) {
    this.hasVideo = options.hasVideo
    this.audioBufferMax = Math.max(0, options.audioBufferMax)
  }

  get isOpen(): boolean {
    return this.openedAt !== undefined
  }

  /** The decode time in seconds at which the gate opened, once it has. */
  get startSeconds(): number | undefined {
    return this.openedAt
  }

  /** Returns the inputs to record now, in order; an empty array while the gate is still closed. */
  step(input: GateInput): ReadonlyArray<GateInput> {
    if (this.openedAt !== undefined) {
      // Audio sent well before the opening keyframe but arrived after it is dropped like the buffered audio.
      return input.seconds < this.openedAt - AUDIO_LEAD_SECONDS ? [] : [input]
    }
    const { frame } = input
    if (!this.hasVideo) {
      this.openedAt = input.seconds
      return [input]
    }
    if (frame.kind === "audio") {
      this.buffered.push(input)
      if (this.buffered.length > this.audioBufferMax) this.buffered.shift()
      return []
    }
    if (!frame.keyframe) return []
    this.openedAt = input.seconds
    const released = this.buffered.filter((audio) => audio.seconds >= input.seconds - AUDIO_LEAD_SECONDS)
    this.buffered = []
    return [input, ...released]
  }
}
