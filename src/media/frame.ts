/**
 * The core's stream model: what every protocol emits and every container consumes.
 * Protocols convert their wire formats into these shapes; nothing here knows about sockets or files.
 */

export type VideoCodec = "H264" | "VP8"
export type AudioCodec = "AAC" | "OPUS" | "PCMA" | "PCMU" | "G722"
export type TrackKind = "video" | "audio"

export interface VideoTrack {
  readonly kind: "video"
  readonly codec: VideoCodec
  /** Ticks per second of the `dts`/`pts` values of this track's frames (RTMP: 1000, RTP video: 90000). */
  readonly timescale: number
  readonly width: number
  readonly height: number
  /** H264: the AVCDecoderConfigurationRecord (avcC, ISO/IEC 14496-15 5.3.3.1). VP8: empty. */
  readonly config: Uint8Array
  /** A label written into the file with the track (MP4 hdlr name), e.g. whose stream a multi-record track is. */
  readonly name?: string | undefined
}

export interface AudioTrack {
  readonly kind: "audio"
  readonly codec: AudioCodec
  /** Ticks per second of the `dts`/`pts` values of this track's frames. */
  readonly timescale: number
  readonly sampleRate: number
  readonly channels: number
  /** AAC: the AudioSpecificConfig (ISO/IEC 14496-3 1.6.2.1). Others: empty. */
  readonly config: Uint8Array
  /** A label written into the file with the track (MP4 hdlr name). */
  readonly name?: string | undefined
}

export type Track = VideoTrack | AudioTrack

export interface Frame {
  readonly kind: TrackKind
  /** Decode timestamp in the track's timescale; non-decreasing within a track. */
  readonly dts: number
  /** Presentation timestamp in the track's timescale (pts - dts is the B-frame composition offset). */
  readonly pts: number
  readonly keyframe: boolean
  /**
   * H264: one access unit as 4-byte length-prefixed NAL units (AVCC), never Annex-B.
   * AAC: one raw access unit, without ADTS. Others: the codec's raw frame.
   */
  readonly data: Uint8Array
}

/** Short codec names for the `{videoCodec}`/`{audioCodec}` template tags (at most 4 characters). */
export const codecTag = (codec: VideoCodec | AudioCodec): string => codec.toLowerCase().slice(0, 4)
