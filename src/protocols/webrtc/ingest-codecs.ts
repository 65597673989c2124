/**
 * The codecs the WebRTC ingest receives and how each maps onto the core's tracks: H.264 with packetization-mode=1
 * (RFC 6184 8.1; non-interleaved, what browsers send), VP8 (RFC 7741), Opus (RFC 7587), and G.711 A-law and mu-law
 * (RFC 3551 4.5.14). Also the werift codec list that the answers are negotiated from, in order of preference.
 */
import type { RTCRtpCodecParameters } from "werift"
import { useFIR, useH264, useNACK, useOPUS, usePCMA, usePCMU, usePLI, useREMB, useTWCC, useVP8 } from "werift"
import type { AudioCodec, TrackKind, VideoCodec } from "../../media/frame.ts"

export type IngestCodec = Extract<VideoCodec | AudioCodec, "H264" | "VP8" | "OPUS" | "PCMA" | "PCMU">

export interface CodecSpec {
  readonly codec: IngestCodec
  readonly kind: TrackKind
  /** RTP clock rate, which is also the track's timescale. */
  readonly clockRate: number
  readonly channels: number
  /** werift's name for its depacketizer of this payload format. */
  readonly depacketizer: "MPEG4/ISO/AVC" | "VP8" | "OPUS" | "PCMA" | "PCMU"
}

const specs: Record<string, CodecSpec> = {
  h264: { codec: "H264", kind: "video", clockRate: 90_000, channels: 0, depacketizer: "MPEG4/ISO/AVC" },
  vp8: { codec: "VP8", kind: "video", clockRate: 90_000, channels: 0, depacketizer: "VP8" },
  // RFC 7587 4.1: Opus is always announced as opus/48000/2, whatever the encoder actually uses.
  opus: { codec: "OPUS", kind: "audio", clockRate: 48_000, channels: 2, depacketizer: "OPUS" },
  pcma: { codec: "PCMA", kind: "audio", clockRate: 8_000, channels: 1, depacketizer: "PCMA" },
  pcmu: { codec: "PCMU", kind: "audio", clockRate: 8_000, channels: 1, depacketizer: "PCMU" }
}

/** The spec of an SDP encoding name (`H264`, `opus`, ...) at a clock rate, or undefined when not received. */
export const codecSpec = (encodingName: string, clockRate: number): CodecSpec | undefined => {
  const spec = specs[encodingName.toLowerCase()]
  return spec !== undefined && spec.clockRate === clockRate ? spec : undefined
}

/** The spec of a werift MIME type (`video/H264`). */
export const codecSpecOfMimeType = (mimeType: string, clockRate: number): CodecSpec | undefined =>
  codecSpec(mimeType.slice(mimeType.indexOf("/") + 1), clockRate)

/** Whether an SDP fmtp line's parameters allow this payload: H.264 only with packetization-mode=1. */
export const acceptsFormatParameters = (spec: CodecSpec, fmtp: string | undefined): boolean => {
  if (spec.codec !== "H264") return true
  const mode = /(?:^|;)\s*packetization-mode\s*=\s*(\d+)/i.exec(fmtp ?? "")
  return mode !== null && mode[1] === "1"
}

const videoFeedback = () => [useNACK(), usePLI(), useFIR(), useREMB(), useTWCC()]

/**
 * werift's local codecs, in the order the answer prefers them. werift matches offered codecs by MIME type only, so
 * the offer is filtered first (offer-codecs.ts) to leave just the H.264 payloads this ingest can take.
 */
export const receiveCodecs = (): Record<TrackKind, Array<RTCRtpCodecParameters>> => ({
  video: [
    useH264({
      rtcpFeedback: videoFeedback(),
      parameters: "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f"
    }),
    useVP8({ rtcpFeedback: videoFeedback() })
  ],
  audio: [useOPUS({ rtcpFeedback: [useTWCC()] }), usePCMA(), usePCMU()]
})
