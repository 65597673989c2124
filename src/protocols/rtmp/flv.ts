/**
 * FLV video and audio tag bodies (Adobe FLV spec v10.1, E.4.3.1 VIDEODATA and E.4.2.1 AUDIODATA), as RTMP media
 * messages carry them, turned into the core's tracks and frames: H.264 (AVC) video and AAC audio.
 */
import type { AudioTrack, Frame, Track, VideoTrack } from "../../media/frame.ts"
import { parseAudioSpecificConfig } from "../../media/aac-config.ts"
import { parseAvcDecoderConfig, parseSps } from "../../media/h264-sps.ts"

/** RTMP media timestamps are milliseconds. */
export const RTMP_TIMESCALE = 1000

/** E.4.3.1: CodecID 7 is AVC; FrameType 1 is a keyframe, 5 a video info/command frame. */
const VIDEO_CODEC_AVC = 7
const FRAME_TYPE_KEY = 1
const FRAME_TYPE_COMMAND = 5
/** E.4.3.1 AVCPacketType. */
const AVC_SEQUENCE_HEADER = 0
const AVC_NALU = 1
/** Enhanced RTMP sets the top bit of the first byte and then names the codec by FourCC (HEVC, AV1, ...). */
const EX_HEADER = 0x80
/** E.4.2.1: SoundFormat 10 is AAC; AACPacketType 0 is the AudioSpecificConfig, 1 a raw frame. */
const SOUND_FORMAT_AAC = 10
const AAC_SEQUENCE_HEADER = 0
const AAC_RAW = 1

const VIDEO_CODEC_NAMES: Record<number, string> = {
  2: "Sorenson H.263",
  3: "Screen video",
  4: "On2 VP6",
  5: "On2 VP6 with alpha",
  6: "Screen video v2"
}
const SOUND_FORMAT_NAMES: Record<number, string> = {
  0: "linear PCM",
  1: "ADPCM",
  2: "MP3",
  3: "linear PCM little endian",
  4: "Nellymoser 16 kHz",
  5: "Nellymoser 8 kHz",
  6: "Nellymoser",
  7: "G.711 A-law",
  8: "G.711 mu-law",
  11: "Speex",
  14: "MP3 8 kHz"
}

/** Where demuxed tracks and frames go (a Publication), and where one-off warnings go. */
export interface FlvSink {
  readonly track: (track: Track) => void
  readonly frame: (frame: Frame) => void
  readonly warn: (message: string) => void
}

/** Rewrites length-prefixed NAL units to 4-byte lengths; undefined if a length runs past the end. */
const toFourByteLengths = (data: Uint8Array, lengthSize: number): Uint8Array | undefined => {
  const nals: Array<Uint8Array> = []
  let total = 0
  let pos = 0
  while (pos < data.length) {
    if (pos + lengthSize > data.length) return undefined
    let length = 0
    for (let i = 0; i < lengthSize; i++) length = length * 256 + data[pos + i]
    pos += lengthSize
    if (pos + length > data.length) return undefined
    nals.push(data.subarray(pos, pos + length))
    total += 4 + length
    pos += length
  }
  const out = Buffer.allocUnsafe(total)
  let at = 0
  for (const nal of nals) {
    out.writeUInt32BE(nal.length, at)
    out.set(nal, at + 4)
    at += 4 + nal.length
  }
  return out
}

const sameBytes = (a: Uint8Array, b: Uint8Array): boolean => Buffer.compare(a, b) === 0

/** Per-connection FLV demuxing state: the current track of each kind and what was already warned about. */
export class FlvDemuxer {
  private video: VideoTrack | undefined
  private audio: AudioTrack | undefined
  private nalLengthSize = 4
  private readonly warned = new Set<string>()
  /** Picture size from onMetaData, used only when the SPS cannot be parsed. */
  sizeHint: { width: number; height: number } = { width: 0, height: 0 }

  get videoTrack(): VideoTrack | undefined {
    return this.video
  }

  get audioTrack(): AudioTrack | undefined {
    return this.audio
  }

  private warnOnce(sink: FlvSink, key: string, message: string): void {
    if (this.warned.has(key)) return
    this.warned.add(key)
    sink.warn(message)
  }

  /** Handles one RTMP video message (type 9) with timestamp `dts` in milliseconds. */
  videoTag(payload: Buffer, dts: number, sink: FlvSink): void {
    if (payload.length < 1) return
    const first = payload[0]
    if ((first & EX_HEADER) !== 0) {
      const fourCc = payload.length >= 5 ? payload.toString("latin1", 1, 5) : "?"
      return this.warnOnce(sink, "video-ex", `ignoring video: enhanced RTMP codec ${fourCc} is not supported`)
    }
    const frameType = first >> 4
    const codecId = first & 0x0f
    if (codecId !== VIDEO_CODEC_AVC) {
      const name = VIDEO_CODEC_NAMES[codecId] ?? `codec id ${codecId}`
      return this.warnOnce(sink, `video-${codecId}`, `ignoring video: ${name} is not supported (only H.264)`)
    }
    if (frameType === FRAME_TYPE_COMMAND || payload.length < 5) return
    const packetType = payload[1]
    if (packetType === AVC_SEQUENCE_HEADER) return this.avcSequenceHeader(payload.subarray(5), sink)
    if (packetType !== AVC_NALU || this.video === undefined) return
    // E.4.3.1: CompositionTime is a signed 24-bit offset, pts = dts + cts.
    const cts = (payload.readUIntBE(2, 3) << 8) >> 8
    let data: Uint8Array = payload.subarray(5)
    if (data.length === 0) return
    if (this.nalLengthSize !== 4) {
      const normalised = toFourByteLengths(data, this.nalLengthSize)
      if (normalised === undefined) {
        return this.warnOnce(sink, "video-nal", "dropping H.264 frames whose NAL unit lengths run past the message")
      }
      data = normalised
    }
    sink.frame({ kind: "video", dts, pts: dts + cts, keyframe: frameType === FRAME_TYPE_KEY, data })
  }

  private avcSequenceHeader(avcC: Buffer, sink: FlvSink): void {
    const record = parseAvcDecoderConfig(avcC)
    if (record === undefined) {
      return this.warnOnce(sink, "video-avcc", "ignoring a malformed AVCDecoderConfigurationRecord")
    }
    // Frames are normalised to 4-byte NAL lengths, so the record handed on must say so (lengthSizeMinusOne = 3).
    let config: Uint8Array = avcC
    if (record.nalLengthSize !== 4) {
      config = Buffer.from(avcC)
      config[4] |= 0x03
    }
    this.nalLengthSize = record.nalLengthSize
    if (this.video !== undefined && sameBytes(this.video.config, config)) return
    const sps = record.sps.length > 0 ? parseSps(record.sps[0]) : undefined
    this.video = {
      kind: "video",
      codec: "H264",
      timescale: RTMP_TIMESCALE,
      width: sps?.width ?? this.sizeHint.width,
      height: sps?.height ?? this.sizeHint.height,
      config: Buffer.from(config)
    }
    sink.track(this.video)
  }

  /** Handles one RTMP audio message (type 8) with timestamp `dts` in milliseconds. */
  audioTag(payload: Buffer, dts: number, sink: FlvSink): void {
    if (payload.length < 1) return
    const soundFormat = payload[0] >> 4
    if (soundFormat !== SOUND_FORMAT_AAC) {
      const name = SOUND_FORMAT_NAMES[soundFormat] ?? `sound format ${soundFormat}`
      return this.warnOnce(sink, `audio-${soundFormat}`, `ignoring audio: ${name} is not supported (only AAC)`)
    }
    if (payload.length < 2) return
    const packetType = payload[1]
    if (packetType === AAC_SEQUENCE_HEADER) return this.aacSequenceHeader(payload, sink)
    if (packetType !== AAC_RAW || this.audio === undefined || payload.length === 2) return
    sink.frame({ kind: "audio", dts, pts: dts, keyframe: true, data: payload.subarray(2) })
  }

  private aacSequenceHeader(payload: Buffer, sink: FlvSink): void {
    const asc = payload.subarray(2)
    const info = parseAudioSpecificConfig(asc)
    if (info === undefined) return this.warnOnce(sink, "audio-asc", "ignoring a malformed AudioSpecificConfig")
    if (this.audio !== undefined && sameBytes(this.audio.config, asc)) return
    // channelConfiguration 0 defers to a program config element; FLV's SoundType bit is the best fallback.
    const channels = info.channels > 0 ? info.channels : (payload[0] & 0x01) + 1
    this.audio = {
      kind: "audio",
      codec: "AAC",
      timescale: RTMP_TIMESCALE,
      sampleRate: info.sampleRate,
      channels,
      config: Buffer.from(asc)
    }
    sink.track(this.audio)
  }
}
