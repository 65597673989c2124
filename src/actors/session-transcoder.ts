/**
 * The audio transcoder of one media session, kept across the session's recordings: started when a recording's
 * container cannot keep the audio (audio-transcode-target.ts), replaced when the audio track or the target changes
 * (a new AudioSpecificConfig cannot go on through ADTS headers built from the old one), and closed with the session.
 * A transcoder that failed leaves the audio out until the input or the target changes. Driven synchronously by the
 * session's fiber; effects (starting, closing) are handed to `run`, which runs them between two batches.
 */
import { Effect } from "effect"
import type { AudioTrack, Frame } from "../media/frame.ts"
import type { Transcoder, TranscoderError } from "../pipelines/audio-transcoder.ts"
import type { TranscodeTarget } from "../pipelines/transcoder-command.ts"

export interface SessionTranscoderHooks {
  /** Starts a transcoder in the session's scope. */
  readonly start: (
    input: AudioTrack,
    target: TranscodeTarget,
    onFrame: (frame: Frame) => void,
    onError: (message: string) => void
  ) => Effect.Effect<Transcoder, TranscoderError>
  /** A transcoded frame of the current transcoder, for the open recording. */
  readonly onFrame: (frame: Frame) => void
  /** The current transcoder failed (to start, or later): counted against the recording's error budget. */
  readonly onError: (message: string) => void
  /** Runs an effect from the session's fiber after the current batch. */
  readonly run: (effect: Effect.Effect<void>) => void
  /** Runs an effect beside the session's fiber (closing a replaced transcoder must not hold the frames up). */
  readonly fork: (effect: Effect.Effect<void>) => void
}

/** What a recording opening now does with its audio. */
export type AudioPlan =
  /** Record the audio as it is. */
  | "as-is"
  /** Hold the frames: the transcoder is starting (about a second). */
  | "wait"
  /** Leave the audio out: the transcoder failed, which was reported. */
  | "failed"
  /** Record this track, fed by the transcoder. */
  | AudioTrack

const sameTrack = (a: AudioTrack, b: AudioTrack): boolean =>
  a.codec === b.codec && a.sampleRate === b.sampleRate && a.channels === b.channels && a.timescale === b.timescale &&
  a.config.length === b.config.length && a.config.every((byte, i) => byte === b.config[i])

export class SessionTranscoder {
  readonly #hooks: SessionTranscoderHooks
  #state: Transcoder | "starting" | "failed" | undefined
  /** What the current transcoder was started for. */
  #for: { readonly input: AudioTrack; readonly target: TranscodeTarget } | undefined
  /** Bumped whenever the transcoder is replaced: callbacks of a replaced one are ignored. */
  #generation = 0

  constructor(hooks: SessionTranscoderHooks) {
    this.#hooks = hooks
  }

  /** Decides the audio of a recording about to open, starting or replacing the transcoder as needed. */
  plan(audio: AudioTrack | undefined, target: TranscodeTarget | undefined): AudioPlan {
    const current = this.#for
    const keep = current !== undefined && audio !== undefined && target === current.target &&
      sameTrack(current.input, audio)
    if (!keep) this.#retire()
    if (audio === undefined || target === undefined) return "as-is"
    if (this.#state === undefined) this.#start(audio, target)
    const state = this.#state
    return state === "starting" || state === undefined ? "wait" : state === "failed" ? "failed" : state.output
  }

  /**
   * Takes an audio frame while the audio is transcoded: a running transcoder gets it, one that is starting or
   * failed drops it (it must not reach the file as it is, in a track of the target codec). False when the audio is
   * recorded as it is.
   */
  push(frame: Frame): boolean {
    if (this.#for === undefined) return false
    const state = this.#state
    if (typeof state === "object") state.push(frame)
    return true
  }

  /** Flushes and stops the transcoder (bounded by its close timeout); for the end of the session. */
  readonly close: Effect.Effect<void> = Effect.suspend(() => {
    const state = this.#state
    return typeof state === "object" ? state.close : Effect.void
  })

  #start(input: AudioTrack, target: TranscodeTarget): void {
    const generation = ++this.#generation
    const current = () => generation === this.#generation
    this.#state = "starting"
    this.#for = { input, target }
    const failed = (message: string) => {
      if (!current()) return
      this.#state = "failed"
      this.#hooks.onError(`audio transcoder: ${message}`)
    }
    // Frames of a transcoder that reported an error (a wrong output format) are not recorded either.
    const onFrame = (frame: Frame) => {
      if (current() && typeof this.#state === "object") this.#hooks.onFrame(frame)
    }
    this.#hooks.run(this.#hooks.start(input, target, onFrame, failed).pipe(
      Effect.matchEffect({
        onSuccess: (transcoder) =>
          Effect.suspend(() => {
            if (!current()) return transcoder.close
            // A transcoder that failed while starting up keeps its "failed".
            if (this.#state === "starting") this.#state = transcoder
            return Effect.void
          }),
        onFailure: (error) => Effect.sync(() => failed(error.message))
      })
    ))
  }

  #retire(): void {
    const state = this.#state
    this.#generation++
    this.#state = undefined
    this.#for = undefined
    if (typeof state === "object") this.#hooks.fork(state.close)
  }
}
