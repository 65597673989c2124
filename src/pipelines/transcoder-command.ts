/**
 * The ffmpeg command of the audio transcoder and the AAC it promises: stdin in the input's format, AAC-LC in ADTS on
 * stdout at the configured rate, channels and bitrate, plus the AudioSpecificConfig of that output, known before
 * ffmpeg writes a byte.
 */
import { ADTS_SAMPLING_FREQUENCIES } from "../media/aac-adts.ts"
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

export interface OutputSettings {
  readonly sampleRate: number
  readonly channels: number
  readonly bitrateMode: number
}

/** ffmpeg's arguments: read `input` from stdin, write ADTS AAC to stdout, flushing every packet. */
export const transcoderArgs = (input: TranscoderInput, output: OutputSettings): Array<string> => [
  "-hide_banner",
  "-nostdin",
  "-loglevel", "error",
  // Read the live pipe as it comes rather than probing seconds of it first.
  "-probesize", "32",
  "-analyzeduration", "0",
  ...input.ffmpegArgs,
  "-i", "pipe:0",
  "-map", "0:a:0",
  "-c:a", "aac",
  "-b:a", String(aacBitrate(output.bitrateMode, output.channels)),
  "-ar", String(output.sampleRate),
  "-ac", String(output.channels),
  "-flush_packets", "1",
  "-f", "adts",
  "pipe:1"
]
