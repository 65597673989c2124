/**
 * Depacketized H.264 access units to core frames: the avcC comes from the in-band SPS and PPS (and is announced
 * again only when they change), frames are AVCC without parameter sets or delimiters, IDR access units are key
 * frames. ffprobe reads the frames back as the independent judge.
 */
import { assert, describe, it } from "@effect/vitest"
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import type { Frame, VideoTrack } from "../src/media/frame.ts"
import { makeAvcC, NAL_AUD, NAL_PPS, NAL_SPS, nalType, splitAnnexB } from "../src/media/h264-annexb.ts"
import { frameProblem } from "../src/pipelines/frame-check.ts"
import { H264AccessUnits } from "../src/protocols/webrtc/h264-access-unit.ts"
import { toAnnexB } from "./fixtures/rtmp/elementary-streams.ts"
import { encodeVideo } from "./fixtures/webrtc/test-media.ts"
import { countFrames, probe } from "./support/ffprobe.ts"

const media = encodeVideo("H264", { seconds: 2, fps: 25, gop: 25, size: "352x288" })
const nalOf = (data: Buffer, type: number) => splitAnnexB(data).find((nal) => nalType(nal) === type)!

describe("H264AccessUnits", () => {
  it("builds the avcC from the first SPS/PPS and turns every access unit into a checked AVCC frame", () => {
    const units = new H264AccessUnits()
    const converted = media.frames.map((frame) => units.convert(frame.data))
    const frames = converted.flatMap((unit) => (unit._tag === "Frame" ? [unit] : []))
    assert.strictEqual(frames.length, media.frames.length)
    const first = media.frames[0]!.data
    assert.deepStrictEqual(frames[0]!.config, {
      avcC: makeAvcC(nalOf(first, NAL_SPS), nalOf(first, NAL_PPS)),
      width: 352,
      height: 288
    })
    // The encoder repeats the same SPS/PPS at every IDR: nothing new to announce.
    assert.deepStrictEqual(frames.flatMap((f, i) => (f.config !== undefined ? [i] : [])), [0])
    assert.deepStrictEqual(frames.flatMap((f, i) => (f.keyframe ? [i] : [])), [0, 25])
    for (const frame of frames) {
      const core: Frame = { kind: "video", dts: 0, pts: 0, keyframe: frame.keyframe, data: frame.data }
      assert.isUndefined(frameProblem("H264", core))
    }

    const dir = mkdtempSync(join(tmpdir(), "capstan-h264-au-"))
    try {
      const config = units.config!.avcC
      const track: VideoTrack = { kind: "video", codec: "H264", timescale: 90_000, width: 352, height: 288, config }
      const file = join(dir, "out.h264")
      const core = frames.map((f, i): Frame => ({ kind: "video", dts: i, pts: i, keyframe: f.keyframe, data: f.data }))
      writeFileSync(file, toAnnexB(track, core))
      const stream = probe(file).streams[0]!
      assert.deepStrictEqual([stream.codec_name, stream.width, stream.height], ["h264", 352, 288])
      assert.strictEqual(countFrames(file, 0), media.frames.length)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it("skips access units until an SPS and PPS are known, and drops delimiters", () => {
    const units = new H264AccessUnits()
    const delta = media.frames[1]!.data
    assert.deepStrictEqual(units.convert(delta), { _tag: "Skip", reason: "no SPS and PPS yet" })
    const aud = Buffer.from([0, 0, 0, 1, NAL_AUD, 0xf0])
    const unit = units.convert(Buffer.concat([aud, media.frames[0]!.data]))
    assert.strictEqual(unit._tag, "Frame")
    if (unit._tag !== "Frame") return
    const types: Array<number> = []
    const data = Buffer.from(unit.data)
    for (let at = 0; at < data.length; at += 4 + data.readUInt32BE(at)) types.push(data[at + 4]! & 0x1f)
    assert.notInclude(types, NAL_AUD)
    assert.notInclude(types, NAL_SPS)
    assert.notInclude(types, NAL_PPS)
    assert.include(types, 5)
    assert.deepStrictEqual(units.convert(aud), { _tag: "Skip", reason: "an access unit without slices" })
  })

  it("announces a new configuration when the SPS changes (a new picture size)", () => {
    const other = encodeVideo("H264", { seconds: 1, fps: 10, gop: 10, size: "160x120" })
    const units = new H264AccessUnits()
    units.convert(media.frames[0]!.data)
    const unit = units.convert(other.frames[0]!.data)
    assert.strictEqual(unit._tag, "Frame")
    if (unit._tag !== "Frame") return
    assert.deepStrictEqual([unit.config?.width, unit.config?.height, unit.keyframe], [160, 120, true])
  })
})
