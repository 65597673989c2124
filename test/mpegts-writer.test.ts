/**
 * The MPEG-TS writer, judged by ffprobe/ffmpeg, by mediabunny's demuxer, and by a walk over the transport
 * packets that checks what 13818-1 asks of a recording: tables first and repeated, a PCR on the video PID at
 * most 0.1 s apart and never after the decode time, and continuity counters without a gap.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { afterAll, beforeAll } from "vitest"
import { mpegTsFormat, MpegTsWriter } from "../src/containers/mpeg-ts/index.ts"
import type { Frame, Track } from "../src/media/frame.ts"
import { ContainerWriteError } from "../src/pipelines/container-format.ts"
import { packetAfterSeek, tsPackets, type TsPacketInfo } from "./fixtures/containers/media-judges.ts"
import {
  makeSource,
  readBack,
  readSourceFrames,
  type SourceFrames,
  tempDir,
  type TimedFrame,
  type Timescales
} from "./fixtures/containers/source-media.ts"
import { countFrames, decodeErrors, probe } from "./support/ffprobe.ts"

const SECONDS = 6
const PMT_PID = 0x1000
const VIDEO_PID = 0x100
const AUDIO_PID = 0x101
let dir = ""
beforeAll(() => {
  dir = tempDir("mpegts")
})
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }))

const load = (timescales?: Timescales) =>
  Effect.promise(() => readSourceFrames([makeSource(dir, "h264-aac.mp4", SECONDS)], timescales))

const open = (tracks: ReadonlyArray<Track>, name: string): MpegTsWriter => {
  const writer = mpegTsFormat().open({ tmpPath: path.join(dir, `${name}.ts.tmp`), tracks, creationTime: new Date() })
  if (writer instanceof ContainerWriteError) throw new Error(writer.message)
  return writer as MpegTsWriter
}

const record = (tracks: ReadonlyArray<Track>, frames: ReadonlyArray<TimedFrame>, name: string) =>
  Effect.gen(function*() {
    const writer = open(tracks, name)
    for (const { trackIndex, frame } of frames) assert.isUndefined(writer.push(trackIndex, frame))
    const file = yield* writer.finalize(path.join(dir, `${name}.ts`))
    assert.isFalse(fs.existsSync(path.join(dir, `${name}.ts.tmp`)))
    assert.strictEqual(file.bytes, fs.statSync(file.path).size)
    return file
  })

/** Frames the file should hold: from the first video key frame on, none presented before it. */
const recorded = (media: SourceFrames) => {
  const videoIndex = media.tracks.findIndex((t) => t.kind === "video")
  let origin: number | undefined
  const kept: Array<Array<Frame>> = media.tracks.map(() => [])
  for (const { trackIndex, frame } of media.frames) {
    const track = media.tracks[trackIndex]!
    if (origin === undefined && (videoIndex < 0 || (trackIndex === videoIndex && frame.keyframe))) {
      origin = frame.dts / track.timescale
    }
    if (origin !== undefined && frame.pts / track.timescale >= origin) kept[trackIndex]!.push(frame)
  }
  return { origin: origin!, kept }
}

/** CRC-32/MPEG-2 computed bit by bit: over a section including its CRC it gives 0. */
const crcResidue = (bytes: Uint8Array): number => {
  let crc = 0xffff_ffff
  for (const byte of bytes) {
    for (let bit = 7; bit >= 0; bit--) {
      const top = ((crc >>> 31) ^ (byte >> bit)) & 1
      crc = ((crc << 1) ^ (top ? 0x04c1_1db7 : 0)) >>> 0
    }
  }
  return crc
}

/** The section a PSI packet carries (after its pointer field), checked against its CRC. */
const sectionOf = (packet: TsPacketInfo): Uint8Array => {
  const body = packet.payload.subarray(1 + packet.payload[0]!)
  const length = 3 + (((body[1]! & 0x0f) << 8) | body[2]!)
  const section = body.subarray(0, length)
  assert.strictEqual(crcResidue(section), 0, "section CRC")
  return section
}

/** PTS and DTS (90 kHz) of the PES header starting `payload`. */
const pesTimes = (payload: Uint8Array): { pts: number; dts: number } => {
  assert.deepStrictEqual([...payload.subarray(0, 3)], [0, 0, 1], "PES start code")
  const read = (at: number) =>
    ((payload[at]! >> 1) & 0x07) * 2 ** 30 + (payload[at + 1]! << 22 | (payload[at + 2]! >> 1) << 15) +
    ((payload[at + 3]! << 7) | (payload[at + 4]! >> 1))
  const pts = read(9)
  return { pts, dts: (payload[7]! & 0x40) !== 0 ? read(14) : pts }
}

/** NAL units of an Annex B access unit, or of a length-prefixed one, without AUD, SPS and PPS. */
const slices = (data: Uint8Array, annexB: boolean): Array<string> => {
  const units: Array<Uint8Array> = []
  if (annexB) {
    const starts: Array<[number, number]> = []
    for (let i = 0; i + 3 <= data.byteLength; i++) {
      if (data[i] === 0 && data[i + 1] === 0 && data[i + 2] === 1) {
        starts.push([i, i + 3])
        i += 2
      }
    }
    starts.forEach(([, from], n) => {
      let to = n + 1 < starts.length ? starts[n + 1]![0] : data.byteLength
      while (to > from && data[to - 1] === 0) to--
      units.push(data.subarray(from, to))
    })
  } else {
    for (let at = 0; at < data.byteLength;) {
      const length = new DataView(data.buffer, data.byteOffset + at, 4).getUint32(0)
      units.push(data.subarray(at + 4, at + 4 + length))
      at += 4 + length
    }
  }
  return units.filter((u) => ![7, 8, 9].includes(u[0]! & 0x1f)).map((u) => Buffer.from(u).toString("hex"))
}

describe("mpegTsFormat", () => {
  for (const timescales of [{ video: 1000, audio: 1000 }, { video: 90_000 }]) {
    it.live(`H.264 (B-frames) + AAC at ${timescales.video} Hz plays, seeks and counts every frame`, () =>
      Effect.gen(function*() {
        const media = yield* load(timescales)
        const file = yield* record(media.tracks, media.frames, `av-${timescales.video}`)
        const probed = probe(file.path)
        assert.strictEqual(probed.format.format_name, "mpegts")
        assert.deepStrictEqual(probed.streams.map((s) => s.codec_name), ["h264", "aac"])
        const sourceDuration = Number(probe(makeSource(dir, "h264-aac.mp4", SECONDS)).format.duration)
        assert.approximately(Number(probed.format.duration), sourceDuration, 0.1)
        assert.approximately(file.durationSeconds, sourceDuration, 0.1)
        const { kept } = recorded(media)
        kept.forEach((frames, i) => assert.strictEqual(countFrames(file.path, i), frames.length))
        assert.strictEqual(decodeErrors(file.path), "")
        const landed = packetAfterSeek(file.path, 3.7)
        assert.isDefined(landed)
        assert.isTrue(landed!.keyframe)
        assert.approximately(landed!.pts, 0.7 + 3.0, 0.1, "the key frame before 3 s of media (timestamps start at 0.7)")
      }))
  }

  it.live("tables come first and before every key frame, the PCR rides on video, counters never skip", () =>
    Effect.gen(function*() {
      const media = yield* load()
      const file = yield* record(media.tracks, media.frames, "transport")
      const packets = tsPackets(fs.readFileSync(file.path))

      assert.deepStrictEqual(packets.slice(0, 3).map((p) => p.pid), [0, PMT_PID, VIDEO_PID])
      const pat = sectionOf(packets[0]!)
      assert.strictEqual(pat[0], 0x00, "table_id PAT")
      assert.strictEqual(((pat[10]! & 0x1f) << 8) | pat[11]!, PMT_PID, "program 1 -> PMT PID")
      const pmt = sectionOf(packets[1]!)
      assert.strictEqual(pmt[0], 0x02, "table_id PMT")
      assert.strictEqual(((pmt[8]! & 0x1f) << 8) | pmt[9]!, VIDEO_PID, "PCR_PID is the video PID")
      assert.deepStrictEqual(
        [pmt[12], ((pmt[13]! & 0x1f) << 8) | pmt[14]!, pmt[17], ((pmt[18]! & 0x1f) << 8) | pmt[19]!],
        [0x1b, VIDEO_PID, 0x0f, AUDIO_PID]
      )
      const firstVideo = packets[2]!
      assert.isTrue(firstVideo.start && firstVideo.randomAccess, "the first video PES is a random access point")
      const nextStart = packets.findIndex((p, i) => i > 2 && p.pid === VIDEO_PID && p.start)
      const pes = Buffer.concat(packets.slice(2, nextStart).filter((p) => p.pid === VIDEO_PID).map((p) => p.payload))
      const types = slicesTypes(pes.subarray(9 + pes[8]!))
      assert.deepStrictEqual(types.slice(0, 3), [9, 7, 8], "AUD, SPS, PPS first")
      assert.include(types, 5, "an IDR slice")

      // Tables before every key frame, and at least every 0.1 s of PCR time.
      const keyStarts = packets.flatMap((p, i) => (p.pid === VIDEO_PID && p.start && p.randomAccess ? [i] : []))
      const keyframes = media.frames.filter((f) => f.frame.kind === "video" && f.frame.keyframe)
      assert.strictEqual(keyStarts.length, keyframes.length)
      for (const i of keyStarts) assert.deepStrictEqual([packets[i - 2]!.pid, packets[i - 1]!.pid], [0, PMT_PID])
      let lastPcr: number | undefined
      let pcrAtLastPat: number | undefined
      let maxPcrGap = 0
      let maxPatGap = 0
      for (const p of packets) {
        if (p.pcr !== undefined) {
          assert.strictEqual(p.pid, VIDEO_PID, "PCR only on the video PID")
          if (lastPcr !== undefined) {
            assert.isAtLeast(p.pcr, lastPcr, "PCR never goes back")
            maxPcrGap = Math.max(maxPcrGap, p.pcr - lastPcr)
          }
          lastPcr = p.pcr
          if (p.start) assert.isAtMost(p.pcr, pesTimes(p.payload).dts, "PCR not after the DTS it comes with")
        }
        if (p.pid === 0) {
          if (pcrAtLastPat !== undefined && lastPcr !== undefined) {
            maxPatGap = Math.max(maxPatGap, lastPcr - pcrAtLastPat)
          }
          pcrAtLastPat = lastPcr
        }
      }
      assert.isAtMost(maxPcrGap, 9000, "PCRs at most 0.1 s apart")
      assert.isAtMost(maxPatGap, 9000 + 3000, "PAT at least every 0.1 s (checked at frame boundaries)")

      const counters = new Map<number, number>()
      for (const [i, p] of packets.entries()) {
        const previous = counters.get(p.pid)
        if (previous !== undefined) {
          const expected = p.hasPayload ? (previous + 1) & 0x0f : previous
          assert.strictEqual(p.counter, expected, `CC of packet ${i}, PID ${p.pid}`)
        }
        counters.set(p.pid, p.counter)
      }

      // Decode order with B-frames: DTS never above PTS, and DTS increasing on the video PID.
      const video = packets.filter((p) => p.pid === VIDEO_PID && p.start).map((p) => pesTimes(p.payload))
      for (const [i, t] of video.entries()) {
        assert.isAtMost(t.dts, t.pts)
        if (i > 0) assert.isAbove(t.dts, video[i - 1]!.dts)
      }
    }))

  it.live("reads back packet for packet with mediabunny's demuxer", () =>
    Effect.gen(function*() {
      const media = yield* load({ video: 90_000 })
      const file = yield* record(media.tracks, media.frames, "readback")
      const tracks = yield* Effect.promise(() => readBack(file.path))
      const { origin, kept } = recorded(media)
      assert.deepStrictEqual(tracks.map((t) => t.codec), ["avc", "aac"])
      media.tracks.forEach((track, i) => {
        const read = tracks[i]!.packets
        assert.strictEqual(read.length, kept[i]!.length)
        kept[i]!.forEach((frame, n) => {
          const got = read[n]!
          if (track.kind === "video") {
            assert.deepStrictEqual(slices(got.data, true), slices(frame.data, false), `NAL units of frame ${n}`)
            assert.strictEqual(got.key, frame.keyframe)
          } else {
            const frameLength = ((got.data[3]! & 0x03) << 11) | (got.data[4]! << 3) | (got.data[5]! >> 5)
            assert.strictEqual(frameLength, got.data.byteLength, "ADTS frame_length")
            assert.isTrue(Buffer.from(got.data.subarray(7)).equals(Buffer.from(frame.data)), `AAC frame ${n}`)
          }
          // Timestamps start at 0.7 s on the 90 kHz clock.
          const expected = 0.7 + frame.pts / track.timescale - origin
          assert.approximately(got.timestamp, expected, 0.0011, `timestamp of frame ${n} of track ${i}`)
        })
      })
    }))

  it.live("a copy taken mid-recording plays up to the last key frame written", () =>
    Effect.gen(function*() {
      const media = yield* load()
      const writer = open(media.tracks, "crash")
      const half = Math.floor(media.frames.length / 2)
      for (const { trackIndex, frame } of media.frames.slice(0, half)) {
        assert.isUndefined(writer.push(trackIndex, frame))
      }
      yield* Effect.promise(() => writer.settled())
      const copy = path.join(dir, "crash-copy.ts")
      fs.copyFileSync(path.join(dir, "crash.ts.tmp"), copy)
      assert.strictEqual(decodeErrors(copy), "")
      const pushedVideo = media.frames.slice(0, half).filter((f) => f.frame.kind === "video").length
      const decoded = countFrames(copy, 0)
      assert.isAtMost(decoded, pushedVideo)
      assert.isAtLeast(decoded, pushedVideo - 31)
      yield* writer.abort()
      assert.isFalse(fs.existsSync(path.join(dir, "crash.ts.tmp")))
    }))

  it.live("audio-only AAC carries the PCR on the audio PID", () =>
    Effect.gen(function*() {
      const media = yield* load()
      const audioIndex = media.tracks.findIndex((t) => t.kind === "audio")
      const frames = media.frames.filter((f) => f.trackIndex === audioIndex).map((f) => ({ ...f, trackIndex: 0 }))
      const file = yield* record([media.tracks[audioIndex]!], frames, "audio-only")
      assert.deepStrictEqual(probe(file.path).streams.map((s) => s.codec_name), ["aac"])
      assert.strictEqual(countFrames(file.path, 0), frames.length)
      assert.strictEqual(decodeErrors(file.path), "")
      const packets = tsPackets(fs.readFileSync(file.path))
      const pmt = sectionOf(packets[1]!)
      assert.strictEqual(((pmt[8]! & 0x1f) << 8) | pmt[9]!, VIDEO_PID, "the one stream (PID 0x100) carries the PCR")
      assert.isAbove(packets.filter((p) => p.pcr !== undefined).length, frames.length - 1)
    }))

  it.live("a quiet video PID still gets a PCR every 0.1 s, from PCR-only packets", () =>
    Effect.gen(function*() {
      const media = yield* load()
      // Only the key frames (one a second) and all the audio.
      const frames = media.frames.filter((f) => f.frame.kind === "audio" || f.frame.keyframe)
      const file = yield* record(media.tracks, frames, "sparse-video")
      const packets = tsPackets(fs.readFileSync(file.path))
      const pcrs = packets.filter((p) => p.pcr !== undefined)
      assert.isAbove(pcrs.filter((p) => !p.hasPayload).length, 0, "PCR-only packets")
      const gaps = pcrs.slice(1).map((p, i) => p.pcr! - pcrs[i]!.pcr!)
      assert.isAtMost(Math.max(...gaps), 9000)
      assert.strictEqual(decodeErrors(file.path), "")
    }))

  const h264: Track = {
    kind: "video",
    codec: "H264",
    timescale: 90_000,
    width: 640,
    height: 360,
    config: Uint8Array.of(1, 0x64, 0, 0x1e, 0xff, 0xe1, 0, 2, 0x67, 0x64, 1, 0, 2, 0x68, 0xee)
  }
  const audio = (codec: Track["codec"], config = new Uint8Array(0)): Track =>
    ({ kind: "audio", codec, timescale: 48_000, sampleRate: 48_000, channels: 2, config }) as Track
  const refusals: ReadonlyArray<readonly [ReadonlyArray<Track>, string]> = [
    [[{ ...h264, codec: "VP8", config: new Uint8Array(0) }], "UnsupportedCodec"],
    [[h264, audio("OPUS")], "UnsupportedCodec"],
    [[audio("PCMA")], "UnsupportedCodec"],
    [[{ ...h264, config: new Uint8Array(0) }], "InvalidTrack"],
    [[audio("AAC", Uint8Array.of(0x11, 0x80))], "InvalidTrack"], // channel configuration 0 (a PCE)
    [[audio("AAC", Uint8Array.of(0x39, 0x90))], "InvalidTrack"], // object type 7 (TwinVQ)
    [[], "InvalidTrack"]
  ]
  it.live("refuses codecs and configurations a transport stream of H.264 and ADTS cannot carry", () =>
    Effect.gen(function*() {
      for (const [tracks, code] of refusals) {
      const result = mpegTsFormat().open({ tmpPath: path.join(dir, "refused.tmp"), tracks, creationTime: new Date() })
      assert.instanceOf(result, ContainerWriteError)
      assert.strictEqual((result as ContainerWriteError).code, code, (result as ContainerWriteError).message)
    }
    assert.isFalse(fs.existsSync(path.join(dir, "refused.tmp")))
    const accepted = open([h264, audio("AAC", Uint8Array.of(0x11, 0x90))], "accepted")
    yield* accepted.abort()
    assert.deepStrictEqual([mpegTsFormat().name, mpegTsFormat().extension], ["ts", "ts"])
  }))
})

/** nal_unit_type of each unit of an Annex B byte stream. */
const slicesTypes = (data: Uint8Array): Array<number> => {
  const types: Array<number> = []
  for (let i = 0; i + 3 < data.byteLength; i++) {
    if (data[i] === 0 && data[i + 1] === 0 && data[i + 2] === 1) {
      types.push(data[i + 3]! & 0x1f)
      i += 2
    }
  }
  return types
}
