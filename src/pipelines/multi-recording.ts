/**
 * One multi-stream recording (manual: "Multiple stream recording to one file"): several media sessions tapped
 * into one MP4, one track per stream and kind. A stream joins at its next keyframe and its tracks start with a
 * pause (an empty edit) at the moment it joined; a stream removed and added again gets new tracks.
 */
import type { Frame, Track } from "../media/frame.ts"
import type { Mp4Recorder } from "../containers/isobmff/index.ts"

/** The name every multi-record track carries, so the mixer knows whose it is. */
export const multiTrackName = (mediaSessionId: string, streamName: string): string =>
  `capstan:${mediaSessionId}:${encodeURIComponent(streamName)}`

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
  dropped = 0

  constructor(recording: MultiRecording, mediaSessionId: string, streamName: string, hasVideo: () => boolean) {
    this.recording = recording
    this.mediaSessionId = mediaSessionId
    this.streamName = streamName
    this.hasVideo = hasVideo
  }

  push(track: Track, frame: Frame): void {
    const seconds = frame.dts / track.timescale
    if (this.joined === undefined) {
      const canStart = this.hasVideo() ? frame.kind === "video" && frame.keyframe : true
      if (!canStart) return
      this.joined = { streamSeconds: seconds, fileSeconds: this.recording.elapsedSeconds() }
    }
    const fileSeconds = this.joined.fileSeconds + (seconds - this.joined.streamSeconds)
    if (fileSeconds < this.joined.fileSeconds) return
    let writer = this.writerTracks.get(frame.kind)
    if (writer === undefined || writer.track !== track) {
      // A first frame of this kind, or a new codec configuration: new track, placed where it starts.
      if (frame.kind === "video" && !frame.keyframe) return
      const index = this.recording.addTrack(track, fileSeconds, multiTrackName(this.mediaSessionId, this.streamName))
      // A refused track (a codec MP4 cannot hold) is remembered as such, so it is refused once, not per frame.
      writer = { index: index ?? -1, track }
      this.writerTracks.set(frame.kind, writer)
    }
    if (writer.index < 0 || !this.recording.push(writer.index, frame)) this.dropped++
  }
}

export class MultiRecording {
  readonly uri: string
  readonly startMillis: number
  readonly recorder: Mp4Recorder
  private readonly nowMillis: () => number
  private readonly onRejected: (message: string) => void
  readonly taps = new Map<string, StreamTap>()

  constructor(options: {
    readonly uri: string
    readonly recorder: Mp4Recorder
    readonly nowMillis: () => number
    /** Told once per refused track or failed write, for the log and the error budget. */
    readonly onRejected: (message: string) => void
  }) {
    this.uri = options.uri
    this.recorder = options.recorder
    this.nowMillis = options.nowMillis
    this.onRejected = options.onRejected
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
    const index = this.recorder.addTrack({ ...track, name }, { startOffset: Math.max(0, startSeconds) })
    if (typeof index === "number") return index
    this.onRejected(`${name}: ${track.codec} track not recorded: ${index.message}`)
    return undefined
  }

  push(trackIndex: number, frame: Frame): boolean {
    const error = this.recorder.push(trackIndex, frame)
    if (error === undefined) return true
    this.onRejected(`track ${trackIndex}: ${error.message}`)
    return false
  }
}
