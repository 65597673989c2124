/**
 * A core track as a Matroska TrackEntry (RFC 9559 5.1.4, codec mappings of the Matroska codec registry), for our
 * own MKV writer. Every codec is kept as it came: H.264 (V_MPEG4/ISO/AVC with its avcC), VP8, Opus (with an
 * OpusHead), AAC (with its AudioSpecificConfig), and G.711 A-law/µ-law and G.722 as A_MS/ACM with a WAVEFORMATEX,
 * which is how ffmpeg and mkvmerge store and read codecs that have no Matroska codec id of their own.
 */
import type { Track } from "../../../media/frame.ts"
import { ContainerWriteError } from "../../../pipelines/container-format.ts"
import { checkMatroskaTrack, invalid, opusHead, vp8KeyFrameSize } from "../matroska-codecs.ts"
import { binary, float64, ID, master, string, uint } from "./ebml.ts"

/** Matroska's SeekPreRoll for Opus: 80 ms, in nanoseconds (RFC 9559, A_OPUS). */
const OPUS_SEEK_PRE_ROLL_NS = 80_000_000
/** G.722 codes 16 kHz audio (ITU-T G.722 1.3), whatever RTP's 8000 Hz clock says (RFC 3551 4.5.2). */
const G722_SAMPLE_RATE = 16_000

/** WAVE format tags (RFC 2361 / mmreg.h) ffmpeg's riff tables use for these codecs. */
const WAVE_FORMAT = { PCMA: 0x0006, PCMU: 0x0007, G722: 0x028f } as const

/** A WAVEFORMATEX (18 bytes, little-endian, cbSize 0), the CodecPrivate of A_MS/ACM. */
const waveFormatEx = (codec: "PCMA" | "PCMU" | "G722", channels: number, sampleRate: number): Uint8Array => {
  const out = new Uint8Array(18)
  const view = new DataView(out.buffer)
  // G.711: 8 bits per sample. G.722 at 64 kbit/s: 4 bits per 16 kHz sample, as ffmpeg writes it.
  const bitsPerSample = codec === "G722" ? 4 : 8
  view.setUint16(0, WAVE_FORMAT[codec], true)
  view.setUint16(2, channels, true)
  view.setUint32(4, sampleRate, true)
  view.setUint32(8, (sampleRate * channels * bitsPerSample) / 8, true)
  view.setUint16(12, channels, true) // block align: a byte per channel
  view.setUint16(14, bitsPerSample, true)
  view.setUint16(16, 0, true)
  return out
}

/** Checks what can be checked before the first frame. */
export const checkMkvTrack = (track: Track): ContainerWriteError | undefined => checkMatroskaTrack("mkv", track)

/**
 * The TrackEntry of `track` as track `number`, built when its first frame is known (a VP8 track announced
 * without a size takes it from its first key frame).
 */
export const trackEntry = (number: number, track: Track, firstFrame: Uint8Array): Uint8Array | ContainerWriteError => {
  const common = [uint(ID.TrackNumber, number), uint(ID.TrackUID, number), uint(ID.FlagLacing, 0)]
  if (track.name !== undefined && track.name !== "") common.push(string(ID.Name, track.name))
  if (track.kind === "video") {
    const size = track.width > 0 && track.height > 0
      ? { width: track.width, height: track.height }
      : track.codec === "VP8" ? vp8KeyFrameSize(firstFrame) : undefined
    if (size === undefined) return invalid(`${track.codec} track without a size`)
    const video = master(ID.Video, [uint(ID.PixelWidth, size.width), uint(ID.PixelHeight, size.height)])
    const codec = track.codec === "H264"
      ? [string(ID.CodecID, "V_MPEG4/ISO/AVC"), binary(ID.CodecPrivate, track.config)]
      : [string(ID.CodecID, "V_VP8")]
    return master(ID.TrackEntry, [...common, uint(ID.TrackType, 1), ...codec, video])
  }
  const channels = track.channels
  const audio = (sampleRate: number, bitDepth?: number) =>
    master(ID.Audio, [
      float64(ID.SamplingFrequency, sampleRate),
      uint(ID.Channels, channels),
      ...(bitDepth === undefined ? [] : [uint(ID.BitDepth, bitDepth)])
    ])
  const entry = (codec: ReadonlyArray<Uint8Array>, audioElement: Uint8Array) =>
    master(ID.TrackEntry, [...common, uint(ID.TrackType, 2), ...codec, audioElement])
  switch (track.codec) {
    case "AAC":
      return entry([string(ID.CodecID, "A_AAC"), binary(ID.CodecPrivate, track.config)], audio(track.sampleRate))
    case "OPUS":
      // Matroska Opus always decodes at 48 kHz; the head's input rate is informational (RFC 7845 5.1).
      return entry([
        string(ID.CodecID, "A_OPUS"),
        binary(ID.CodecPrivate, opusHead(channels, track.sampleRate)),
        uint(ID.CodecDelay, 0),
        uint(ID.SeekPreRoll, OPUS_SEEK_PRE_ROLL_NS)
      ], audio(48_000))
    case "PCMA":
    case "PCMU":
      return entry([
        string(ID.CodecID, "A_MS/ACM"),
        binary(ID.CodecPrivate, waveFormatEx(track.codec, channels, track.sampleRate))
      ], audio(track.sampleRate, 8))
    case "G722":
      return entry([
        string(ID.CodecID, "A_MS/ACM"),
        binary(ID.CodecPrivate, waveFormatEx("G722", channels, G722_SAMPLE_RATE))
      ], audio(G722_SAMPLE_RATE))
  }
}
