/**
 * How each core track goes into a Matroska/WebM file through mediabunny: which codecs each kind accepts, the
 * mediabunny codec and WebCodecs decoder config (CodecPrivate), and how frame bytes are carried.
 */
import type { EncodedAudioPacketSource, EncodedVideoPacketSource } from "mediabunny"
import type { Track } from "../../media/frame.ts"
import { ContainerWriteError } from "../../pipelines/container-format.ts"
import { expandG711 } from "./g711-expansion.ts"

export type MatroskaKind = "webm" | "mkv"

/** WebCodecs' decoder configs, named through mediabunny (the DOM types are not in this project's lib). */
type VideoDecoderConfig = NonNullable<NonNullable<Parameters<EncodedVideoPacketSource["add"]>[1]>["decoderConfig"]>
type AudioDecoderConfig = NonNullable<NonNullable<Parameters<EncodedAudioPacketSource["add"]>[1]>["decoderConfig"]>

export type MediabunnyVideoCodec = "avc" | "vp8"
export type MediabunnyAudioCodec = "aac" | "opus" | "pcm-s16"

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

/**
 * Codecs per kind. WebM is VP8/VP9/AV1 with Opus/Vorbis by its spec; H.264 is allowed because the manual records
 * WebRTC H.264+Opus to WebM (Chromium's MediaRecorder writes the same). G.722 has no Matroska codec id that
 * mediabunny can write.
 */
export const MATROSKA_CODECS: Record<MatroskaKind, ReadonlyArray<Track["codec"]>> = {
  webm: ["H264", "VP8", "OPUS"],
  mkv: ["H264", "VP8", "OPUS", "AAC", "PCMA", "PCMU"]
}

const same = (data: Uint8Array): Uint8Array => data
const hex2 = (byte: number): string => byte.toString(16).padStart(2, "0")

/** RFC 6381 3.3: avc1.PPCCLL from the avcC's profile, compatibility and level bytes. */
const avcCodecString = (avcC: Uint8Array): string => `avc1.${hex2(avcC[1]!)}${hex2(avcC[2]!)}${hex2(avcC[3]!)}`

/** The WebCodecs AAC registrations mediabunny accepts, by audio object type (ISO/IEC 14496-3 1.5.1.1). */
const aacCodecString = (asc: Uint8Array): string => {
  const objectType = asc[0]! >> 3
  return objectType === 5 ? "mp4a.40.5" : objectType === 29 ? "mp4a.40.29" : "mp4a.40.2"
}

/**
 * The Opus identification header (RFC 7845 5.1) used as CodecPrivate. Pre-skip is 0: a recording starts in the
 * middle of a stream whose encoder delay was consumed long before, so no decoded samples should be trimmed.
 */
export const opusHead = (channels: number, inputSampleRate: number): Uint8Array => {
  const head = new Uint8Array(19)
  const view = new DataView(head.buffer)
  head.set(new TextEncoder().encode("OpusHead"), 0)
  head[8] = 1 // version
  head[9] = channels
  view.setUint16(10, 0, true) // pre-skip
  view.setUint32(12, inputSampleRate, true)
  view.setInt16(16, 0, true) // output gain
  head[18] = 0 // channel mapping family 0: mono or stereo
  return head
}

/** The width and height in a VP8 key frame's header (RFC 6386 9.1), for tracks announced without a size. */
const vp8KeyFrameSize = (frame: Uint8Array): { width: number; height: number } | undefined => {
  const isKey = frame.byteLength >= 10 && (frame[0]! & 0x01) === 0
  if (!isKey || frame[3] !== 0x9d || frame[4] !== 0x01 || frame[5] !== 0x2a) return undefined
  return { width: (frame[6]! | (frame[7]! << 8)) & 0x3fff, height: (frame[8]! | (frame[9]! << 8)) & 0x3fff }
}

const unsupported = (kind: MatroskaKind, track: Track): ContainerWriteError =>
  new ContainerWriteError(
    `${track.codec} cannot be recorded to ${kind.toUpperCase()} (supported: ${MATROSKA_CODECS[kind].join(", ")})`,
    "UnsupportedCodec"
  )

const invalid = (message: string): ContainerWriteError => new ContainerWriteError(message, "InvalidTrack")

/** Checks at open time everything that can be checked before the first frame. */
export const checkMatroskaTrack = (kind: MatroskaKind, track: Track): ContainerWriteError | undefined => {
  if (!MATROSKA_CODECS[kind].includes(track.codec)) return unsupported(kind, track)
  if (track.kind === "video") {
    if (track.codec === "H264" && (track.config.byteLength < 7 || track.config[0] !== 1)) {
      return invalid("H.264 track without an AVCDecoderConfigurationRecord")
    }
    if (track.codec === "H264" && (track.width <= 0 || track.height <= 0)) return invalid("H.264 track without a size")
    return undefined
  }
  if (track.sampleRate <= 0 || track.channels <= 0) return invalid(`${track.codec} track without rate or channels`)
  if (track.codec === "AAC" && track.config.byteLength < 2) return invalid("AAC track without an AudioSpecificConfig")
  if (track.codec === "OPUS" && track.channels > 2) return invalid("Opus with more than 2 channels")
  return undefined
}

/** The mediabunny side of a track, built when its first frame (a key frame for video) is known. */
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
  const channels = track.channels
  switch (track.codec) {
    case "AAC":
      return {
        kind: "audio",
        codec: "aac",
        decoderConfig: {
          codec: aacCodecString(track.config),
          sampleRate: track.sampleRate,
          numberOfChannels: channels,
          description: track.config
        },
        packetData: same
      }
    case "OPUS":
      return {
        kind: "audio",
        codec: "opus",
        // Matroska Opus always decodes at 48 kHz (RFC 7845 5.1: the input rate is informational).
        decoderConfig: {
          codec: "opus",
          sampleRate: 48_000,
          numberOfChannels: channels,
          description: opusHead(channels, track.sampleRate)
        },
        packetData: same
      }
    case "PCMA":
    case "PCMU": {
      const law = track.codec === "PCMA" ? "alaw" : "ulaw"
      return {
        kind: "audio",
        codec: "pcm-s16",
        decoderConfig: { codec: "pcm-s16", sampleRate: track.sampleRate, numberOfChannels: channels },
        packetData: (data) => expandG711(law, data)
      }
    }
    case "G722":
      return new ContainerWriteError("G722 cannot be recorded to Matroska", "UnsupportedCodec")
  }
}
