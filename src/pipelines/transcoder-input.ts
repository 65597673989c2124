/**
 * How each audio codec a container cannot keep is handed to ffmpeg on stdin: Opus in an Ogg stream (RFC 7845),
 * G.711 as raw A-law/mu-law bytes, G.722 as raw codes, AAC as ADTS (raw AAC frames carry no length; ADTS is the lightest framing
 * ffmpeg reads from a pipe, and its header is built from the track's AudioSpecificConfig). Each input knows how long a frame lasts and how to write silence, so gaps can
 * be filled.
 */
import { adtsConfigOf } from "../containers/mpeg-ts/elementary-streams.ts"
import { adtsHeader, ADTS_SAMPLING_FREQUENCIES } from "../media/aac-adts.ts"
import { concatBytes as concat } from "../media/bytes.ts"
import type { AudioTrack } from "../media/frame.ts"
import { aacSilentFrame } from "./aac-silence.ts"
import { OggOpusWriter } from "./ogg-opus-writer.ts"
import { OPUS_RATE, OPUS_SILENCE_PACKET, OPUS_SILENCE_SAMPLES, opusPacketSamples } from "./opus-packet.ts"

export interface TranscoderInput {
  /** ffmpeg options describing stdin, placed before `-i pipe:0`. */
  readonly ffmpegArgs: ReadonlyArray<string>
  /** Samples per second of the stream on stdin. */
  readonly rate: number
  /** The smallest silence `encode` can insert, in samples. */
  readonly silenceUnit: number
  /** Whether `encode` can cut samples off the start of a frame (to remove an overlap exactly). */
  readonly canTrim: boolean
  /** Bytes that must open the stream (Ogg headers), or none. */
  readonly header: Uint8Array
  /** Samples in one frame's data; 0 for data that cannot be fed (empty or malformed). */
  samples(data: Uint8Array): number
  /** The stdin bytes for `silence` samples of silence, then the frame without its first `trim` samples. */
  encode(data: Uint8Array, silence: number, trim: number): Uint8Array
}

/** Opus: one Ogg page per packet; silence as 20 ms silent packets. Packets cannot be cut, so `trim` is ignored. */
const opusInput = (channels: number): TranscoderInput => {
  const ogg = new OggOpusWriter(0x43617073) // "Caps"
  return {
    ffmpegArgs: ["-f", "ogg"],
    rate: OPUS_RATE,
    silenceUnit: OPUS_SILENCE_SAMPLES,
    canTrim: false,
    header: ogg.headers(channels),
    samples: opusPacketSamples,
    encode: (data, silence) => {
      const pages: Array<Uint8Array> = []
      for (let filled = 0; filled < silence; filled += OPUS_SILENCE_SAMPLES) {
        pages.push(ogg.packet(OPUS_SILENCE_PACKET, OPUS_SILENCE_SAMPLES))
      }
      pages.push(ogg.packet(data, opusPacketSamples(data)))
      return concat(pages)
    }
  }
}

/** The code of a zero sample: A-law inverts the even bits of 0x80 (G.711 Table 1a), mu-law codes +0 as 0xFF. */
const G711_SILENCE = { PCMA: 0xd5, PCMU: 0xff } as const

/** G.711: one byte per sample and channel, interleaved; silence and trimming are exact. */
const g711Input = (codec: "PCMA" | "PCMU", rate: number, channels: number): TranscoderInput => ({
  ffmpegArgs: ["-f", codec === "PCMA" ? "alaw" : "mulaw", "-ar", String(rate), "-ac", String(channels)],
  rate,
  silenceUnit: 1,
  canTrim: true,
  header: new Uint8Array(0),
  samples: (data) => Math.floor(data.length / channels),
  encode: (data, silence, trim) => {
    if (silence === 0 && trim === 0) return data
    const body = data.subarray(trim * channels)
    const out = new Uint8Array(silence * channels + body.length)
    out.fill(G711_SILENCE[codec], 0, silence * channels)
    out.set(body, silence * channels)
    return out
  }
})

/** G.722 codes 16 kHz audio, two samples per byte at 64 kbit/s (ITU-T G.722 1.3), whatever RTP's 8000 Hz clock. */
const G722_RATE = 16_000
/**
 * What ffmpeg's G.722 encoder writes for digital silence from a reset state. G.722 is adaptive, so no byte is
 * silence from every state; a run of it decodes to silence within a few samples, which is what a gap needs.
 */
const G722_SILENCE = 0xfa

/** G.722 (mono, as RTP carries it): raw codes for ffmpeg's g722 demuxer; silence as above, frames never cut. */
const g722Input = (): TranscoderInput => ({
  ffmpegArgs: ["-f", "g722"],
  rate: G722_RATE,
  silenceUnit: 2,
  canTrim: false,
  header: new Uint8Array(0),
  samples: (data) => data.length * 2,
  encode: (data, silence) => {
    if (silence < 2) return data
    const out = new Uint8Array(Math.floor(silence / 2) + data.length)
    out.fill(G722_SILENCE, 0, out.length - data.length)
    out.set(data, out.length - data.length)
    return out
  }
})

/** Samples per AAC frame at the core rate (14496-3 4.5.1.1; the 960-sample variant is not used by streaming). */
const AAC_FRAME_SAMPLES = 1024
/** aac_frame_length is 13 bits and counts the 7-byte header (13818-7 6.2.1); no real AAC frame comes near it. */
const ADTS_MAX_PAYLOAD = 8191 - 7

/**
 * AAC: each raw frame behind the ADTS header its AudioSpecificConfig implies; silence as silent frames of 1024
 * samples. HE-AAC goes in as its AAC-LC core at the core rate and ffmpeg finds the SBR data in the frames (implicit
 * signalling), so the timeline counts 1024 core samples per frame whatever the decoded rate is. Frames cannot be
 * cut, so `trim` is ignored.
 */
const aacInput = (track: AudioTrack): TranscoderInput | string => {
  const adts = adtsConfigOf(track.config)
  const silent = adts && aacSilentFrame(adts.channelConfiguration)
  if (adts === undefined || silent === undefined) {
    return "an AAC AudioSpecificConfig that ADTS cannot carry (object types 1-5 and 29, channel configurations 1-7)"
  }
  const config = {
    audioObjectType: adts.profile + 1,
    samplingIndex: adts.frequencyIndex,
    channels: adts.channelConfiguration
  }
  const silence = concat([adtsHeader(config, silent.length), silent])
  return {
    ffmpegArgs: ["-f", "aac"],
    rate: ADTS_SAMPLING_FREQUENCIES[adts.frequencyIndex]!,
    silenceUnit: AAC_FRAME_SAMPLES,
    canTrim: false,
    header: new Uint8Array(0),
    samples: (data) => (data.length > 0 && data.length <= ADTS_MAX_PAYLOAD ? AAC_FRAME_SAMPLES : 0),
    encode: (data, fill) => {
      const parts: Array<Uint8Array> = []
      for (let filled = 0; filled < fill; filled += AAC_FRAME_SAMPLES) parts.push(silence)
      parts.push(adtsHeader(config, data.length), data)
      return concat(parts)
    }
  }
}

/** The stdin format for `track`, or why it cannot be transcoded. */
export const transcoderInput = (track: AudioTrack): TranscoderInput | string => {
  const channels = Math.max(1, track.channels)
  switch (track.codec) {
    case "OPUS":
      // Mapping family 0 (RFC 7845 5.1.1) covers mono and stereo; a stereo decoder also plays mono packets.
      return opusInput(Math.min(channels, 2))
    case "PCMA":
    case "PCMU":
      if (!(track.sampleRate > 0)) return `${track.codec} at sample rate ${track.sampleRate}`
      return g711Input(track.codec, track.sampleRate, channels)
    case "AAC":
      return aacInput(track)
    case "G722":
      return channels === 1 ? g722Input() : `G722 with ${channels} channels (RTP's G.722 is mono)`
    default:
      return `input codec ${track.codec} (the transcoder takes OPUS, PCMA, PCMU, G722 and AAC)`
  }
}
