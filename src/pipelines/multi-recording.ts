/**
 * One multi-stream recording (manual: "Multiple stream recording to one file"): several media sessions tapped
 * into one MP4 or MKV, one track per stream and kind. A stream joins at its next keyframe and its tracks start
 * with a pause at the moment it joined (an empty edit in MP4; later timestamps in MKV); a stream removed and
 * added again gets new tracks.
 *
 * Write errors count against the recording's error budget (file_recorder_error_interval and
 * file_recorder_max_errors_per_interval), as for a stream's own recording: the stream whose frame failed drops
 * frames until its next keyframe, and the error that spends the budget stops the whole multi-recording.
 */
import type { Effect } from "effect"
import type { Frame, Track } from "../media/frame.ts"
import {
  emptyErrorBudget,
  type ErrorBudget,
  errorBudgetReason,
  type ErrorBudgetPolicy,
  ErrorRecovery,
  record
} from "./error-budget.ts"

/** The name every multi-record track carries, so the mixer knows whose it is. */
export const multiTrackName = (mediaSessionId: string, streamName: string): string =>
  `capstan:${mediaSessionId}:${encodeURIComponent(streamName)}`

/** A finished multi-record file. */
export interface MultiRecordedFile {
  readonly path: string
  readonly tracks: number
}

/** Why a multi-record file could not be finalized; `empty` when nothing was recorded at all. */
export interface MultiFileError {
  readonly message: string
  readonly empty: boolean
}

/** The file a multi-recording writes: our MP4 recorder or our MKV writer, behind one small interface. */
export interface MultiTrackFile {
  readonly extension: "mp4" | "mkv"
  /** Adds a track whose first frame is placed `startOffset` seconds into the file; returns its index. */
  readonly addTrack: (track: Track, startOffset: number) => number | { readonly message: string }
  readonly push: (trackIndex: number, frame: Frame) => { readonly message: string } | undefined
  readonly finalize: (finalPath: string) => Effect.Effect<MultiRecordedFile, MultiFileError>
  readonly abort: () => Effect.Effect<void>
}

/** Receives one session's frames for one multi-recording, in the session's fiber. */
export class StreamTap {
  readonly mediaSessionId: string
  readonly streamName: string
  private readonly recording: MultiRecording
  private readonly hasVideo: () => boolean
  /** The stream's own clock (seconds) and the file's timeline (seconds) at the keyframe it joined on. */
  private joined: { readonly streamSeconds: number; readonly fileSeconds: number } | undefined
  /** Writer track index per kind, and the track config it was added with. */
  private readonly writerTracks = new Map<Track["kind"], { readonly index: number; readonly track: Track }>()
  private recovery: ErrorRecovery | undefined
  dropped = 0

  constructor(recording: MultiRecording, mediaSessionId: string, streamName: string, hasVideo: () => boolean) {
    this.recording = recording
    this.mediaSessionId = mediaSessionId
    this.streamName = streamName
    this.hasVideo = hasVideo
  }

  push(track: Track, frame: Frame): void {
    if (this.recording.stopped) return
    const seconds = frame.dts / track.timescale
    if (this.joined === undefined) {
      const canStart = this.hasVideo() ? frame.kind === "video" && frame.keyframe : true
      if (!canStart) return
      this.joined = { streamSeconds: seconds, fileSeconds: this.recording.elapsedSeconds() }
      this.recovery = new ErrorRecovery({ hasVideo: this.hasVideo() })
    }
    const fileSeconds = this.joined.fileSeconds + (seconds - this.joined.streamSeconds)
    if (fileSeconds < this.joined.fileSeconds) return
    let writer = this.writerTracks.get(frame.kind)
    if (writer === undefined || writer.track !== track) {
      // A first frame of this kind, or a new codec configuration: new track, placed where it starts.
      if (frame.kind === "video" && !frame.keyframe) return
      const index = this.recording.addTrack(track, fileSeconds, multiTrackName(this.mediaSessionId, this.streamName))
      // A refused track (a codec the file cannot hold) is remembered as such, so it is refused once, not per frame.
      writer = { index: index ?? -1, track }
      this.writerTracks.set(frame.kind, writer)
    }
    if (writer.index < 0 || !this.recovery!.admit(frame)) {
      this.dropped++
      return
    }
    if (!this.recording.push(writer.index, frame)) {
      this.dropped++
      this.recovery!.onError()
    }
  }
}

export class MultiRecording {
  readonly uri: string
  readonly startMillis: number
  readonly file: MultiTrackFile
  private readonly nowMillis: () => number
  private readonly onRejected: (message: string) => void
  private readonly onExhausted: (recording: MultiRecording, reason: string) => void
  private budget: ErrorBudget
  readonly taps = new Map<string, StreamTap>()
  /** The budget ran out: frames are no longer written; the owner finalizes the file. */
  stopped = false

  constructor(options: {
    readonly uri: string
    readonly file: MultiTrackFile
    readonly nowMillis: () => number
    readonly errorBudget: ErrorBudgetPolicy
    /** Told once per refused track or failed write, for the log. */
    readonly onRejected: (message: string) => void
    /** Told once, when a failed write spends the error budget: the recording must be finalized now. */
    readonly onExhausted: (recording: MultiRecording, reason: string) => void
  }) {
    this.uri = options.uri
    this.file = options.file
    this.nowMillis = options.nowMillis
    this.onRejected = options.onRejected
    this.onExhausted = options.onExhausted
    this.budget = emptyErrorBudget(options.errorBudget)
    this.startMillis = options.nowMillis()
  }

  elapsedSeconds(): number {
    return (this.nowMillis() - this.startMillis) / 1000
  }

  tap(mediaSessionId: string, streamName: string, hasVideo: () => boolean): StreamTap {
    const tap = new StreamTap(this, mediaSessionId, streamName, hasVideo)
    this.taps.set(mediaSessionId, tap)
    return tap
  }

  untap(mediaSessionId: string): StreamTap | undefined {
    const tap = this.taps.get(mediaSessionId)
    this.taps.delete(mediaSessionId)
    return tap
  }

  addTrack(track: Track, startSeconds: number, name: string): number | undefined {
    const index = this.file.addTrack({ ...track, name }, Math.max(0, startSeconds))
    if (typeof index === "number") return index
    this.onRejected(`${name}: ${track.codec} track not recorded: ${index.message}`)
    return undefined
  }

  /** Writes one frame; false when it failed (counted against the budget). */
  push(trackIndex: number, frame: Frame): boolean {
    const error = this.file.push(trackIndex, frame)
    if (error === undefined) return true
    const message = `track ${trackIndex}: ${error.message}`
    const counted = record(this.budget, this.nowMillis())
    this.budget = counted.budget
    if (counted.exceeded && !this.stopped) {
      this.stopped = true
      this.onExhausted(this, `${errorBudgetReason(this.budget.policy)}; last: ${message}`)
    } else this.onRejected(message)
    return false
  }
}
