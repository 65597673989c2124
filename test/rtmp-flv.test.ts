import { assert, describe, it } from "@effect/vitest"
import type { Frame, Track } from "../src/media/frame.ts"
import { parseAudioSpecificConfig } from "../src/media/aac-config.ts"
import { FlvDemuxer, type FlvSink } from "../src/protocols/rtmp/flv.ts"
import { parseAvcDecoderConfig, parseSps } from "../src/media/h264-sps.ts"

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ""), "hex")

// SPS NAL units from real libx264 encodes (ffmpeg 5.1), with the size ffprobe reports for each.
const spsVectors: ReadonlyArray<readonly [string, string, number, number]> = [
  ["High 1080p (crop bottom 8)", "67640028acd940780227e5c044000003000400000300c83c60c658", 1920, 1080],
  ["Constrained Baseline 720p", "6742c01fd9005005bb011000000300100000030320f1832480", 1280, 720],
  ["High QCIF, no cropping", "6764000bacd942c4ec0440000003004000000c83c50a6580", 176, 144],
  ["High 854x480 (crop right)", "6764001eacd940d83de6f011000003000100000300320f162d96", 854, 480],
  ["High interlaced 576 (field MBs)", "6764001eacd940b424d8088000000300800000190f8a14cb", 720, 576],
  ["High 4:4:4 642x362 (crop unit 1)", "67f4001e919b281485fc7cf808800000030080000019078b16cb", 642, 362],
  ["High monochrome 320x240", "6764000df3650507ec05b2000003000200000300641e28532c", 320, 240],
  ["ffmpeg RTMP publish 640x360", "6764001eacd940a02ff970110000030001000003003c0f162d96", 640, 360]
]

const PPS = "68ebe3cb22c0"

/** An AVCDecoderConfigurationRecord (14496-15 5.3.3.1.2) around one SPS and one PPS. */
const avcC = (spsHex: string, lengthSizeMinusOne = 3) => {
  const sps = hex(spsHex)
  const pps = hex(PPS)
  return Buffer.concat([
    Buffer.from([1, sps[1], sps[2], sps[3], 0xfc | lengthSizeMinusOne, 0xe1, sps.length >> 8, sps.length & 0xff]),
    sps,
    Buffer.from([1, pps.length >> 8, pps.length & 0xff]),
    pps
  ])
}

/** An FLV VIDEODATA body for AVC (E.4.3.1): FrameType|CodecID, AVCPacketType, CompositionTime (SI24), data. */
const videoTag = (frameType: number, packetType: number, cts: number, data: Buffer) => {
  const head = Buffer.alloc(5)
  head[0] = (frameType << 4) | 7
  head[1] = packetType
  head.writeIntBE(cts, 2, 3)
  return Buffer.concat([head, data])
}

/** An FLV AUDIODATA body for AAC (E.4.2.1): 44 kHz, 16 bit, stereo flags as FLV requires for AAC. */
const audioTag = (packetType: number, data: Buffer) => Buffer.concat([Buffer.from([0xaf, packetType]), data])

const collect = () => {
  const tracks: Array<Track> = []
  const frames: Array<Frame> = []
  const warnings: Array<string> = []
  const sink: FlvSink = {
    track: (t) => tracks.push(t),
    frame: (f) => frames.push(f),
    warn: (m) => warnings.push(m)
  }
  return { tracks, frames, warnings, sink }
}

describe("H.264 SPS picture size (H.264 7.3.2.1.1, 7.4.2.1.1)", () => {
  it.each(spsVectors)("%s", (_name, sps, width, height) => {
    const info = parseSps(hex(sps))
    assert.deepStrictEqual([info?.width, info?.height], [width, height])
  })

  it("returns undefined for a truncated SPS or another NAL type", () => {
    assert.isUndefined(parseSps(hex("67640028acd9")))
    assert.isUndefined(parseSps(hex(PPS)))
  })

  it("parses the AVCDecoderConfigurationRecord", () => {
    const record = parseAvcDecoderConfig(avcC(spsVectors[0][1], 1))
    assert.strictEqual(record?.nalLengthSize, 2)
    assert.deepStrictEqual(record?.sps.map((s) => Buffer.from(s).toString("hex")), [spsVectors[0][1]])
    assert.deepStrictEqual(record?.pps.map((s) => Buffer.from(s).toString("hex")), [PPS])
    assert.isUndefined(parseAvcDecoderConfig(avcC(spsVectors[0][1]).subarray(0, 20)))
  })
})

describe("AudioSpecificConfig (14496-3 1.6.2.1)", () => {
  it.each([
    ["AAC-LC 44.1 kHz stereo", "1210", 2, 44100, 2],
    ["AAC-LC 48 kHz mono", "1188", 2, 48000, 1],
    ["ffmpeg's aac, 44.1 kHz mono with SBR sync extension", "120856e500", 2, 44100, 1],
    ["explicit 24-bit frequency (index 0xF)", "1780562210", 2, 44100, 2],
    ["HE-AAC: the SBR extension rate is the output rate", "2b1188", 5, 48000, 2],
    ["escaped object type 31 + 6 bits", "f94620", 42, 48000, 1],
    ["channel configuration 0 (program config element)", "1200", 2, 44100, 0]
  ])("%s", (_name, asc, objectType, sampleRate, channels) => {
    assert.deepStrictEqual(parseAudioSpecificConfig(hex(asc)), { audioObjectType: objectType, sampleRate, channels })
  })

  it("refuses a config that is too short or names a reserved frequency index", () => {
    assert.isUndefined(parseAudioSpecificConfig(hex("12")))
    assert.isUndefined(parseAudioSpecificConfig(hex("16 90"))) // index 13 is reserved
  })
})

describe("FlvDemuxer", () => {
  const nals = hex("00000005 6588840021 00000003 41e001") // two 4-byte length-prefixed NAL units

  it("turns an AVC sequence header into a VideoTrack and NALU packets into frames with pts = dts + cts", () => {
    const { tracks, frames, sink } = collect()
    const demuxer = new FlvDemuxer()
    demuxer.videoTag(videoTag(1, 0, 0, avcC(spsVectors[7][1])), 0, sink)
    demuxer.videoTag(videoTag(1, 1, 67, nals), 0, sink)
    demuxer.videoTag(videoTag(2, 1, -33, nals), 100, sink) // negative composition time: sign-extended SI24
    demuxer.videoTag(videoTag(2, 1, 0x7fffff, nals), 133, sink)
    demuxer.videoTag(videoTag(1, 2, 0, Buffer.alloc(0)), 166, sink) // end of sequence: ignored
    assert.deepStrictEqual(tracks, [
      { kind: "video", codec: "H264", timescale: 1000, width: 640, height: 360, config: avcC(spsVectors[7][1]) }
    ])
    assert.deepStrictEqual(frames.map((f) => [f.dts, f.pts, f.keyframe]), [
      [0, 67, true],
      [100, 67, false],
      [133, 133 + 0x7fffff, false]
    ])
    assert.deepStrictEqual(Buffer.from(frames[0].data), nals)
  })

  it("rewrites 2-byte NAL lengths to 4 bytes, and says so in the track's avcC", () => {
    const { tracks, frames, sink } = collect()
    const demuxer = new FlvDemuxer()
    demuxer.videoTag(videoTag(1, 0, 0, avcC(spsVectors[0][1], 1)), 0, sink)
    demuxer.videoTag(videoTag(1, 1, 0, hex("0005 6588840021 0003 41e001")), 0, sink)
    assert.strictEqual(tracks[0].config[4] & 0x03, 3)
    assert.deepStrictEqual(Buffer.from(frames[0].data), nals)
  })

  it("drops NALU packets before the sequence header and frames whose NAL lengths overrun", () => {
    const { frames, warnings, sink } = collect()
    const demuxer = new FlvDemuxer()
    demuxer.videoTag(videoTag(1, 1, 0, nals), 0, sink)
    demuxer.videoTag(videoTag(1, 0, 0, avcC(spsVectors[0][1], 1)), 0, sink)
    demuxer.videoTag(videoTag(1, 1, 0, hex("00ff 6588")), 0, sink)
    assert.strictEqual(frames.length, 0)
    assert.strictEqual(warnings.length, 1)
  })

  it("declares the track again only when a sequence header changes", () => {
    const { tracks, sink } = collect()
    const demuxer = new FlvDemuxer()
    demuxer.videoTag(videoTag(1, 0, 0, avcC(spsVectors[0][1])), 0, sink)
    demuxer.videoTag(videoTag(1, 0, 0, avcC(spsVectors[0][1])), 1000, sink)
    demuxer.videoTag(videoTag(1, 0, 0, avcC(spsVectors[1][1])), 2000, sink)
    const sizes = tracks.map((t) => (t.kind === "video" ? [t.width, t.height] : []))
    assert.deepStrictEqual(sizes, [[1920, 1080], [1280, 720]])
  })

  it("falls back to the onMetaData size when the SPS cannot be parsed", () => {
    const { tracks, sink } = collect()
    const demuxer = new FlvDemuxer()
    demuxer.sizeHint = { width: 800, height: 600 }
    demuxer.videoTag(videoTag(1, 0, 0, avcC("6764001e")), 0, sink)
    assert.deepStrictEqual(tracks.map((t) => (t.kind === "video" ? [t.width, t.height] : [])), [[800, 600]])
  })

  it("turns an AAC sequence header into an AudioTrack and raw packets into frames", () => {
    const { tracks, frames, sink } = collect()
    const demuxer = new FlvDemuxer()
    demuxer.audioTag(audioTag(0, hex("1210")), 0, sink)
    demuxer.audioTag(audioTag(1, hex("21100503")), 23, sink)
    assert.deepStrictEqual(tracks, [
      { kind: "audio", codec: "AAC", timescale: 1000, sampleRate: 44100, channels: 2, config: hex("1210") }
    ])
    assert.deepStrictEqual(frames.map((f) => [f.kind, f.dts, f.pts, f.keyframe, Buffer.from(f.data).toString("hex")]), [
      ["audio", 23, 23, true, "21100503"]
    ])
  })

  it("ignores other codecs, warning once per codec", () => {
    const { tracks, frames, warnings, sink } = collect()
    const demuxer = new FlvDemuxer()
    for (let i = 0; i < 3; i++) {
      demuxer.audioTag(Buffer.from([0x2f, 0xff, 0xfb]), i, sink) // MP3
      demuxer.videoTag(Buffer.from([0x12, 0x00]), i, sink) // Sorenson H.263
      demuxer.videoTag(Buffer.from([0x90, 0x68, 0x76, 0x63, 0x31]), i, sink) // enhanced RTMP "hvc1"
    }
    assert.deepStrictEqual(tracks, [])
    assert.deepStrictEqual(frames, [])
    assert.deepStrictEqual(warnings, [
      "ignoring audio: MP3 is not supported (only AAC)",
      "ignoring video: Sorenson H.263 is not supported (only H.264)",
      "ignoring video: enhanced RTMP codec hvc1 is not supported"
    ])
  })
})
