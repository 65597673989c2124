/**
 * How each core track goes into a WebM file through mediabunny: the mediabunny codec and its WebCodecs decoder
 * config (CodecPrivate). MKV tracks are our own writer's (mkv/track-entry.ts).
 */
import type { EncodedAudioPacketSource, EncodedVideoPacketSource } from "mediabunny"
import type { Track } from "../../media/frame.ts"
import { ContainerWriteError } from "../../pipelines/container-format.ts"
import { invalid, opusHead, unsupported, vp8KeyFrameSize } from "./matroska-codecs.ts"

/** WebCodecs' decoder configs, named through mediabunny (the DOM types are not in this project's lib). */
type VideoDecoderConfig = NonNullable<NonNullable<Parameters<EncodedVideoPacketSource["add"]>[1]>["decoderConfig"]>
type AudioDecoderConfig = NonNullable<NonNullable<Parameters<EncodedAudioPacketSource["add"]>[1]>["decoderConfig"]>

export type MediabunnyVideoCodec = "avc" | "vp8"
export type MediabunnyAudioCodec = "opus"

export interface VideoTrackPlan {
  readonly kind: "video"
  readonly codec: MediabunnyVideoCodec
  readonly decoderConfig: VideoDecoderConfig
  readonly packetData: (data: Uint8Array) => Uint8Array
}

export interface AudioTrackPlan {
  readonly kind: "audio"
  readonly codec: MediabunnyAudioCodec
  readonly decoderConfig: AudioDecoderConfig
  readonly packetData: (data: Uint8Array) => Uint8Array
}

export type TrackPlan = VideoTrackPlan | AudioTrackPlan

const same = (data: Uint8Array): Uint8Array => data
const hex2 = (byte: number): string => byte.toString(16).padStart(2, "0")

/** RFC 6381 3.3: avc1.PPCCLL from the avcC's profile, compatibility and level bytes. */
const avcCodecString = (avcC: Uint8Array): string => `avc1.${hex2(avcC[1]!)}${hex2(avcC[2]!)}${hex2(avcC[3]!)}`

/** The mediabunny side of a WebM track, built when its first frame (a key frame for video) is known. */
export const planMatroskaTrack = (track: Track, firstFrame: Uint8Array): TrackPlan | ContainerWriteError => {
  if (track.kind === "video") {
    const size = track.width > 0 && track.height > 0
      ? { width: track.width, height: track.height }
      : track.codec === "VP8" ? vp8KeyFrameSize(firstFrame) : undefined
    if (size === undefined) return invalid(`${track.codec} track without a size`)
    const base = { codedWidth: size.width, codedHeight: size.height }
    return track.codec === "H264"
      ? {
        kind: "video",
        codec: "avc",
        decoderConfig: { ...base, codec: avcCodecString(track.config), description: track.config },
        packetData: same
      }
      : { kind: "video", codec: "vp8", decoderConfig: { ...base, codec: "vp8" }, packetData: same }
  }
  if (track.codec !== "OPUS") return unsupported("webm", track)
  const channels = track.channels
  return {
    kind: "audio",
    codec: "opus",
    // Matroska Opus always decodes at 48 kHz (RFC 7845 5.1: the input rate is informational).
    decoderConfig: { codec: "opus", sampleRate: 48_000, numberOfChannels: channels, description: opusHead(channels, track.sampleRate) },
    packetData: same
  }
}
