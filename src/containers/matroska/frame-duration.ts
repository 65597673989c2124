/**
 * How long one frame plays, from the codec alone: used for a track's last frame, whose duration cannot be taken
 * from the next frame's timestamp.
 */
import type { Track } from "../../media/frame.ts"

/** Frame sizes in milliseconds of the 32 Opus TOC configurations (RFC 6716 3.1, table 2). */
const OPUS_FRAME_MS = (config: number): number =>
  config < 12 ? [10, 20, 40, 60][config % 4]! : config < 16 ? [10, 20][config % 2]! : [2.5, 5, 10, 20][config % 4]!

/** Frames in one Opus packet: TOC code 0 is one frame, 1 and 2 are two, 3 carries the count (RFC 6716 3.2). */
const opusFrameCount = (data: Uint8Array): number => {
  const code = data[0]! & 0x03
  if (code === 0) return 1
  if (code < 3) return 2
  return data.byteLength > 1 ? data[1]! & 0x3f : 1
}

/** AAC-LC and HE-AAC carry 1024 samples per access unit at the AudioSpecificConfig rate (ISO/IEC 14496-3 1.6.2). */
const AAC_SAMPLES_PER_FRAME = 1024

/** The frame's duration in seconds when the codec tells it; undefined for video (use the frame rate instead). */
export const codecFrameSeconds = (track: Track, data: Uint8Array): number | undefined => {
  if (track.kind === "video" || data.byteLength === 0) return undefined
  const channels = Math.max(1, track.channels)
  switch (track.codec) {
    case "OPUS":
      return (OPUS_FRAME_MS(data[0]! >> 3) * opusFrameCount(data)) / 1000
    case "AAC":
      return AAC_SAMPLES_PER_FRAME / track.sampleRate
    case "PCMA":
    case "PCMU":
      return data.byteLength / channels / track.sampleRate
    case "G722":
      // Two 16 kHz samples per byte at 64 kbit/s (ITU-T G.722 1.3).
      return (data.byteLength * 2) / channels / 16_000
  }
}
