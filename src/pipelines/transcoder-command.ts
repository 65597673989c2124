/**
 * The ffmpeg command of the audio transcoder and what it promises: stdin in the input's format; on stdout either
 * AAC-LC in ADTS at the configured rate, channels and bitrate (for MP4), with the AudioSpecificConfig of that output
 * known before ffmpeg writes a byte, or Opus in Ogg at 48 kHz in 20 ms packets (for WebM).
 */
import { ADTS_SAMPLING_FREQUENCIES } from "../media/aac-adts.ts"
import type { AudioTrack } from "../media/frame.ts"
import { OPUS_RATE } from "./opus-packet.ts"
import type { TranscoderInput } from "./transcoder-input.ts"

/** AAC-LC, audioObjectType 2 (ISO/IEC 14496-3 Table 1.1): what ffmpeg's native `aac` encoder writes. */
const AAC_LC = 2

/**
 * record_fdk_aac_bitrate_mode names libfdk-aac's modes; ffmpeg's native encoder has no such modes (its VBR, -q:a,
 * is marked experimental), so each mode becomes the average bitrate per channel fdk aims at for it (the upper end
 * of each range in the libfdk-aac documentation):
 *   0 (CBR) -> 64 kbit/s per channel (128k stereo)
 *   1 -> 32, 2 -> 40, 3 -> 56, 4 -> 72, 5 -> 112 kbit/s per channel (VBR 1 ~20-32 ... VBR 5 ~96-112)
 */
const KBITS_PER_CHANNEL = [64, 32, 40, 56, 72, 112] as const

/** The `-b:a` bits per second for a bitrate mode (0-5; others fall back to 5, the manual's default). */
export const aacBitrate = (mode: number, channels: number): number =>
  (KBITS_PER_CHANNEL[mode] ?? KBITS_PER_CHANNEL[5]) * 1000 * channels

/** The samplingFrequencyIndex of `rate` (14496-3 Table 1.18), or undefined when AAC has no index for it. */
export const aacSamplingIndex = (rate: number): number | undefined => {
  const index = ADTS_SAMPLING_FREQUENCIES.indexOf(rate as (typeof ADTS_SAMPLING_FREQUENCIES)[number])
  return index < 0 ? undefined : index
}

/**
 * The 2-byte AAC-LC AudioSpecificConfig (14496-3 1.6.2.1) for `rate` and `channels` (channelConfiguration 1-6 is
 * the channel count), or why there is none.
 */
export const aacLcConfig = (rate: number, channels: number): Uint8Array | string => {
  const index = aacSamplingIndex(rate)
  if (index === undefined) return `sample rate ${rate} (AAC takes ${ADTS_SAMPLING_FREQUENCIES.join(", ")})`
  if (!Number.isInteger(channels) || channels < 1 || channels > 6) return `${channels} channels (AAC here: 1 to 6)`
  return Uint8Array.of((AAC_LC << 3) | (index >> 1), ((index & 1) << 7) | (channels << 3))
}

/** The codec a transcoder writes: AAC for containers that take it (MP4), Opus for those that do not (WebM). */
export type TranscodeTarget = "AAC" | "OPUS"

/** Opus channels: mapping family 0 (RFC 7845 5.1.1), all WebM players take, and all Matroska here writes. */
export const OPUS_MAX_CHANNELS = 2
/** Opus packets of 20 ms, the libopus default and WebRTC's usual packet: 960 samples at 48 kHz. */
export const OPUS_FRAME_MS = 20

/**
 * The Opus `-b:a`. The fdk bitrate modes name AAC qualities and are not mapped; 64 kbit/s per channel is what
 * the AAC side spends in CBR, and more than Opus needs to keep a lossy AAC source transparent (RFC 6716 and the
 * codec's listening tests put stereo music at 96-128 kbit/s).
 */
export const opusBitrate = (channels: number): number => 64_000 * channels

export interface OutputSettings {
  /** Default AAC. */
  readonly target?: TranscodeTarget | undefined
  /** AAC output rate; Opus always runs at 48 kHz. */
  readonly sampleRate: number
  readonly channels: number
  readonly bitrateMode: number
}

/**
 * The track a transcoder's frames belong to, or why the settings have none. Opus keeps at most OPUS_MAX_CHANNELS
 * (record_audio_codec_channels above that is capped, not refused: the stream is still worth recording); its
 * timescale is 48 kHz, the clock of Opus packets (RFC 7845 4), whatever record_audio_codec_sample_rate says.
 */
export const outputTrack = (target: TranscodeTarget, settings: OutputSettings): AudioTrack | string => {
  const { sampleRate, channels } = settings
  if (target === "OPUS") {
    if (!Number.isInteger(channels) || channels < 1) return `${channels} channels (Opus here: 1 or 2)`
    const capped = Math.min(channels, OPUS_MAX_CHANNELS)
    const rate = OPUS_RATE
    const config = new Uint8Array(0)
    return { kind: "audio", codec: "OPUS", timescale: rate, sampleRate: rate, channels: capped, config }
  }
  const config = aacLcConfig(sampleRate, channels)
  if (typeof config === "string") return config
  return { kind: "audio", codec: "AAC", timescale: sampleRate, sampleRate, channels, config }
}

/** ffmpeg's arguments: read `input` from stdin, write the target on stdout, flushing every packet. */
export const transcoderArgs = (input: TranscoderInput, output: OutputSettings): Array<string> =>
  output.target === "OPUS" ? [...inputArgs(input), ...opusArgs(output.channels)] : [
    ...inputArgs(input),
    "-c:a", "aac",
    "-b:a", String(aacBitrate(output.bitrateMode, output.channels)),
    "-ar", String(output.sampleRate),
    "-ac", String(output.channels),
    "-flush_packets", "1",
    "-f", "adts",
    "pipe:1"
  ]

/**
 * Opus at 48 kHz (the rate its decoders play and its timestamps count, RFC 7845 4) in Ogg. The Ogg muxer gathers
 * up to a second of packets per page by default; one page per 20 ms packet lets each packet out as soon as it is
 * encoded.
 */
const opusArgs = (channels: number): Array<string> => [
  "-c:a", "libopus",
  "-b:a", String(opusBitrate(channels)),
  "-frame_duration", String(OPUS_FRAME_MS),
  "-ar", "48000",
  "-ac", String(channels),
  "-flush_packets", "1",
  "-page_duration", String(OPUS_FRAME_MS * 1000),
  "-f", "ogg",
  "pipe:1"
]

const inputArgs = (input: TranscoderInput): Array<string> => [
  "-hide_banner",
  "-nostdin",
  "-loglevel", "error",
  // Read the live pipe as it comes rather than probing seconds of it first.
  "-probesize", "32",
  "-analyzeduration", "0",
  ...input.ffmpegArgs,
  "-i", "pipe:0",
  "-map", "0:a:0"
]
