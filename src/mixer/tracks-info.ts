/**
 * What a multi-recording holds, track by track (manual: "Getting tracks information from multiple recording file"),
 * and the JSON that `--show-tracks-info` prints. The readers are mp4-tracks.ts and mkv-tracks.ts.
 */

/** One segment of a track's timeline, in milliseconds from the start of the file. */
export interface TrackEdit {
  readonly startInMs: number
  readonly endInMs: number
  readonly type: "media" | "pause"
}

export interface TrackInfo {
  /** MP4: the tkhd track_ID. MKV: the track's position from 1 (its TrackNumber as Capstan writes it). */
  readonly trackId: number
  /** The stream's index in ffmpeg's view of the file (`-map 0:{streamIndex}`). */
  readonly streamIndex: number
  readonly trackType: "AUDIO" | "VIDEO"
  /** From the track name (track-name.ts); a track not named by the multi-recorder gets its handler name or title. */
  readonly streamName: string
  /** From the track name; a track not named by the multi-recorder gets `track-{trackId}`. */
  readonly mediaSessionId: string
  /** The end of the track's last edit: its span on the file's timeline, pauses included (the manual's example). */
  readonly durationInMS: number
  readonly timescale: number
  /** MP4: the sample entry's four-character code (avc1, mp4a). MKV: ffprobe's codec name (h264, vp8, opus...). */
  readonly trackCodec: string
  readonly width?: number
  readonly height?: number
  /** Video: the mean frames per second (not in the manual's JSON; pull-streams makes its fillers at this rate). */
  readonly frameRate?: number
  readonly channels?: number
  readonly sampleRate?: number
  readonly trackEdits: ReadonlyArray<TrackEdit>
}

export interface MultiRecording {
  readonly file: string
  readonly container: "mp4" | "mkv"
  /** The longest track's end, in milliseconds. */
  readonly durationInMs: number
  /** MP4: mvhd creation_time (seconds since 1904-01-01 UTC); MKV: undefined. */
  readonly creationTime: number | undefined
  readonly tracks: ReadonlyArray<TrackInfo>
}

/** The media edits of a track: the spans of the file's timeline where it has samples. */
export const mediaSpans = (track: TrackInfo): ReadonlyArray<TrackEdit> =>
  track.trackEdits.filter((edit) => edit.type === "media" && edit.endInMs > edit.startInMs)

/** Edits from a pause before the first sample to the end of the track (MKV and any container without edit lists). */
export const editsFromSpan = (startMs: number, endMs: number): ReadonlyArray<TrackEdit> => {
  const start = Math.max(0, startMs)
  const end = Math.max(start, endMs)
  return start >= 1
    ? [{ startInMs: 0, endInMs: start, type: "pause" }, { startInMs: start, endInMs: end, type: "media" }]
    : [{ startInMs: 0, endInMs: end, type: "media" }]
}

const ms = (value: number): string => String(Math.round(value))

/**
 * The manual's JSON for one track. Every value is a string and the keys are those of the manual's example
 * (durationInMS, trackEdits, trackType, trackId, ...); width/height only for video, channels/sampleRate only for
 * audio. Milliseconds are rounded to whole numbers.
 */
export const manualTrackJson = (track: TrackInfo): Record<string, unknown> => ({
  durationInMS: ms(track.durationInMS),
  trackEdits: track.trackEdits.map((edit) => ({
    startInMs: ms(edit.startInMs),
    endInMs: ms(edit.endInMs),
    type: edit.type
  })),
  trackType: track.trackType,
  trackId: String(track.trackId),
  timescale: String(track.timescale),
  streamName: track.streamName,
  mediaSessionId: track.mediaSessionId,
  trackCodec: track.trackCodec,
  ...(track.trackType === "VIDEO"
    ? { width: String(track.width ?? 0), height: String(track.height ?? 0) }
    : { channels: String(track.channels ?? 0), sampleRate: String(track.sampleRate ?? 0) })
})

/** What `--show-tracks-info` prints: a JSON array with one object per track, in file order, indented by 2. */
export const tracksInfoJson = (recording: MultiRecording): string =>
  JSON.stringify(recording.tracks.map(manualTrackJson), null, 2)
