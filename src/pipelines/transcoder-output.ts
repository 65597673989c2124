/**
 * Turns what the transcoder's ffmpeg writes on stdout back into frames on the input's timeline, per target codec:
 * ADTS into raw AAC frames, Ogg into Opus packets. Each reader knows its encoder's delay and where the output's
 * first real sample is, so that the audio stays where the input had it.
 */
import type { AudioTrack, Frame } from "../media/frame.ts"
import { AdtsReader } from "./adts-reader.ts"
import { OggPacketReader } from "./ogg-packet-reader.ts"
import { OPUS_RATE, opusPacketSamples } from "./opus-packet.ts"
import type { TranscoderTimeline } from "./transcoder-timeline.ts"

export interface OutputContext {
  readonly timeline: TranscoderTimeline
  /** Output samples the input fed so far fills (the stream's length in the output rate). */
  readonly fedOutputSamples: () => number
  readonly onFrame: (frame: Frame) => void
  /** ffmpeg wrote something other than what was asked (the transcoder reports it once). */
  readonly report: (message: string) => void
}

export interface OutputReader {
  /** Handles one chunk of ffmpeg's stdout. */
  readonly push: (chunk: Uint8Array) => void
  /** Frames handed to onFrame so far. */
  readonly framesOut: () => number
}

/**
 * AAC-LC in ADTS from ffmpeg's native encoder, which starts with 1024 samples of priming: its first frame is dropped
 * and frame k (from 0) of the rest starts at stream sample k * 1024.
 */
export const aacOutput = (track: AudioTrack, context: OutputContext): OutputReader => {
  const reader = new AdtsReader()
  let adtsFrames = 0
  let framesOut = 0
  const onAdts = (payload: Uint8Array, header: { sampleRate: number; channels: number; audioObjectType: number }) => {
    if (adtsFrames++ === 0) {
      const { sampleRate, channels } = track
      if (header.sampleRate !== sampleRate || header.channels !== channels || header.audioObjectType !== 2) {
        context.report(`ffmpeg wrote AAC object type ${header.audioObjectType} at ${header.sampleRate} Hz, ` +
          `${header.channels} channels; expected AAC-LC at ${sampleRate} Hz, ${channels} channels`)
      }
      return
    }
    const pts = context.timeline.framePts(framesOut++)
    context.onFrame({ kind: "audio", dts: pts, pts, keyframe: true, data: payload })
  }
  return { push: (chunk) => reader.push(chunk, onAdts), framesOut: () => framesOut }
}

const startsWith = (data: Uint8Array, magic: string): boolean =>
  data.length >= magic.length && [...magic].every((char, i) => data[i] === char.charCodeAt(0))

/**
 * Ogg Opus (RFC 7845) from ffmpeg's libopus: an OpusHead packet, an OpusTags packet, then audio packets.
 *
 * Timing: libopus's output lags its input by the pre-skip OpusHead names (312 samples, 6.5 ms, for ffmpeg's
 * libopus at 48 kHz): decoded sample j is input sample j - preSkip. The WebM track's CodecPrivate says pre-skip 0
 * (matroska-tracks.ts: a recording of a live stream trims nothing), so a player plays every decoded sample; packet
 * k, which starts at decoded sample P_k, therefore gets the pts of input sample P_k - preSkip. The first packet
 * starts 6.5 ms before the first input frame with the encoder's lookahead, and everything after is exactly where
 * the input had it. Packets that start after the last input sample hold only the encoder's flush padding and are
 * dropped, so the audio does not outlast the input by more than a packet.
 */
export const opusOutput = (track: AudioTrack, context: OutputContext): OutputReader => {
  const reader = new OggPacketReader()
  let packets = 0
  let preSkip = 0
  /** Decoded samples (48 kHz) of every audio packet so far, pre-skip included. */
  let position = 0
  let framesOut = 0
  const onPacket = ({ data }: { readonly data: Uint8Array }) => {
    const index = packets++
    if (index === 0) {
      if (!startsWith(data, "OpusHead") || data.length < 19) {
        return context.report("ffmpeg's Ogg stream does not start with an OpusHead packet")
      }
      preSkip = data[10]! | (data[11]! << 8)
      const rate = new DataView(data.buffer, data.byteOffset, data.byteLength).getUint32(12, true)
      if (data[9] !== track.channels || rate !== OPUS_RATE) {
        context.report(`ffmpeg wrote Opus of ${data[9]} channels from ${rate} Hz; expected ${track.channels} ` +
          `channels from ${OPUS_RATE} Hz`)
      }
      return
    }
    if (index === 1) {
      if (!startsWith(data, "OpusTags")) context.report("ffmpeg's second Ogg packet is not OpusTags")
      return
    }
    const samples = opusPacketSamples(data)
    if (samples === 0) return context.report(`ffmpeg wrote an Opus packet of ${data.length} bytes with no audio`)
    const start = position - preSkip
    position += samples
    if (start >= context.fedOutputSamples()) return
    const pts = context.timeline.ptsAt(start)
    framesOut++
    context.onFrame({ kind: "audio", dts: pts, pts, keyframe: true, data })
  }
  return { push: (chunk) => reader.push(chunk, onPacket), framesOut: () => framesOut }
}
