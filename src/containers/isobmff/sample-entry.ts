/**
 * The stsd sample entries Capstan writes: avc1 with avcC (ISO/IEC 14496-15 5.4.2) and mp4a with esds
 * (ISO/IEC 14496-14 5.6, descriptors from 14496-1 7.2.6).
 */
import type { AudioTrack, VideoTrack } from "../../media/frame.ts"
import type { ByteWriter } from "./byte-writer.ts"

/** Sampling frequencies indexed by samplingFrequencyIndex (ISO/IEC 14496-3 1.6.3.4, Table 1.18). */
const AAC_SAMPLE_RATES = [96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350]

/** MPEG-4 Audio in the object type table of ISO/IEC 14496-1 7.2.6.6.2. */
const OBJECT_TYPE_MPEG4_AUDIO = 0x40
/** streamType 0x05 (AudioStream) << 2, upStream 0, reserved 1. */
const STREAM_TYPE_AUDIO = 0x15

/**
 * The sampling rate an AudioSpecificConfig declares (14496-3 1.6.2.1), or undefined when it cannot be read.
 * This is the rate AAC's 1024-sample frames run at, so it is the right media timescale.
 */
export const aacSampleRate = (asc: Uint8Array): number | undefined => {
  if (asc.length < 2) return undefined
  let bit = 0
  const read = (count: number): number => {
    let value = 0
    for (let i = 0; i < count; i++, bit++) {
      const byte = asc[bit >> 3]
      if (byte === undefined) return -1
      value = (value << 1) | ((byte >> (7 - (bit & 7))) & 1)
    }
    return value
  }
  if (read(5) === 31) read(6)
  const index = read(4)
  if (index === 15) {
    const explicit = read(24)
    return explicit > 0 ? explicit : undefined
  }
  return AAC_SAMPLE_RATES[index]
}

/** avc1 VisualSampleEntry (14496-12 12.1.3) carrying the track's avcC verbatim. */
export const writeAvc1 = (w: ByteWriter, track: VideoTrack): void => {
  const entry = w.box("avc1")
  w.zeros(6).u16(1) // reserved, data_reference_index
  w.u16(0).u16(0).zeros(12) // pre_defined, reserved, pre_defined[3]
  w.u16(track.width).u16(track.height)
  w.u32(0x0048_0000).u32(0x0048_0000) // 72 dpi
  w.u32(0).u16(1) // reserved, frame_count
  w.zeros(32) // compressorname
  w.u16(0x0018).i16(-1) // depth, pre_defined
  const avcC = w.box("avcC")
  w.bytesOf(track.config)
  w.end(avcC)
  w.end(entry)
}

/** Descriptor header with the 4-byte expandable size form ffmpeg writes (14496-1 8.3.3). */
const descriptor = (w: ByteWriter, tag: number, size: number): void => {
  w.u8(tag).u8(0x80 | ((size >> 21) & 0x7f)).u8(0x80 | ((size >> 14) & 0x7f)).u8(0x80 | ((size >> 7) & 0x7f))
  w.u8(size & 0x7f)
}

export interface AudioBitrates {
  readonly bufferSize: number
  readonly maxBitrate: number
  readonly avgBitrate: number
}

/** mp4a AudioSampleEntry (14496-14 5.6.1) with an esds holding the AudioSpecificConfig. */
export const writeMp4a = (
  w: ByteWriter,
  track: AudioTrack,
  sampleRate: number,
  trackId: number,
  rates: AudioBitrates
): void => {
  const entry = w.box("mp4a")
  w.zeros(6).u16(1) // reserved, data_reference_index
  w.zeros(8) // reserved (version, revision, vendor)
  w.u16(track.channels).u16(16).u16(0).u16(0) // channelcount, samplesize, pre_defined, reserved
  w.u32(sampleRate <= 0xffff ? sampleRate * 0x10000 : 0) // samplerate as 16.16
  const esds = w.fullBox("esds", 0, 0)
  const asc = track.config
  const decoderSpecific = 5 + asc.length
  const decoderConfig = 13 + decoderSpecific
  const slConfig = 5 + 1
  descriptor(w, 0x03, 3 + 5 + decoderConfig + slConfig) // ES_Descriptor
  w.u16(trackId).u8(0) // ES_ID, flags
  descriptor(w, 0x04, decoderConfig) // DecoderConfigDescriptor
  w.u8(OBJECT_TYPE_MPEG4_AUDIO).u8(STREAM_TYPE_AUDIO).u24(Math.min(rates.bufferSize, 0xff_ffff))
  w.u32(rates.maxBitrate).u32(rates.avgBitrate)
  descriptor(w, 0x05, asc.length) // DecoderSpecificInfo
  w.bytesOf(asc)
  descriptor(w, 0x06, 1) // SLConfigDescriptor
  w.u8(0x02) // predefined: reserved for use in MP4 files
  w.end(esds)
  w.end(entry)
}
