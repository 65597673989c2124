/**
 * What WebM and MKV hold (manual: "MP4, WebM, MKV containers support") and what both Matroska writers need from a
 * track before its first frame: the codec lists, the checks made at open time, Opus's CodecPrivate and a VP8 key
 * frame's size.
 */
import type { Track } from "../../media/frame.ts"
import { ContainerWriteError } from "../../pipelines/container-format.ts"

export type MatroskaKind = "webm" | "mkv"

/**
 * Codecs per kind. WebM is VP8/VP9/AV1 with Opus/Vorbis by its spec; H.264 is allowed because the manual records
 * WebRTC H.264+Opus to WebM (Chromium's MediaRecorder writes the same). MKV keeps every codec the manual lists.
 */
export const MATROSKA_CODECS: Record<MatroskaKind, ReadonlyArray<Track["codec"]>> = {
  webm: ["H264", "VP8", "OPUS"],
  mkv: ["H264", "VP8", "OPUS", "AAC", "PCMA", "PCMU", "G722"]
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
export const vp8KeyFrameSize = (frame: Uint8Array): { width: number; height: number } | undefined => {
  const isKey = frame.byteLength >= 10 && (frame[0]! & 0x01) === 0
  if (!isKey || frame[3] !== 0x9d || frame[4] !== 0x01 || frame[5] !== 0x2a) return undefined
  return { width: (frame[6]! | (frame[7]! << 8)) & 0x3fff, height: (frame[8]! | (frame[9]! << 8)) & 0x3fff }
}

export const unsupported = (kind: MatroskaKind, track: Track): ContainerWriteError =>
  new ContainerWriteError(
    `${track.codec} cannot be recorded to ${kind.toUpperCase()} (supported: ${MATROSKA_CODECS[kind].join(", ")})`,
    "UnsupportedCodec"
  )

export const invalid = (message: string): ContainerWriteError => new ContainerWriteError(message, "InvalidTrack")

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

