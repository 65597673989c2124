import { assert, describe, it } from "@effect/vitest"
import * as fc from "fast-check"
import { aacSampleRate } from "../src/containers/isobmff/sample-entry.ts"
import { TrackRecording } from "../src/containers/isobmff/track-recording.ts"
import type { AudioTrack, Frame, VideoTrack } from "../src/media/frame.ts"

const videoTrack = (timescale: number): VideoTrack => ({
  kind: "video",
  codec: "H264",
  timescale,
  width: 16,
  height: 16,
  config: Uint8Array.of(1)
})
/** AudioSpecificConfig of AAC-LC stereo at 44.1 kHz (index 4) and 48 kHz (index 3). */
const ASC_44100 = Uint8Array.of(0x12, 0x10)
const ASC_48000 = Uint8Array.of(0x11, 0x90)
const audioTrack = (sampleRate: number, config: Uint8Array): AudioTrack => ({
  kind: "audio",
  codec: "AAC",
  timescale: 1000,
  sampleRate,
  channels: 2,
  config
})

const frame = (kind: "video" | "audio", dts: number, pts = dts, keyframe = true): Frame => ({
  kind,
  dts,
  pts,
  keyframe,
  data: new Uint8Array(3)
})

const feed = (track: TrackRecording, frames: ReadonlyArray<Frame>) => {
  for (const f of frames) track.add(f, track.decodeTimeOf(f))
  return Array.from({ length: track.samples.sampleCount }, (_, i) => track.samples.duration(i))
}

describe("TrackRecording timestamps", () => {
  it("video decode times are the dts converted exactly to 90 kHz, never accumulating rounding", () =>
    fc.assert(fc.property(
      fc.constantFrom(1000, 90000, 30000, 15360, 44100),
      fc.integer({ min: -1_000_000, max: 1_000_000 }),
      fc.array(fc.integer({ min: 0, max: 5000 }), { minLength: 1, maxLength: 200 }),
      (timescale, start, steps) => {
        const track = new TrackRecording(0, videoTrack(timescale), undefined)
        let dts = start
        const frames = steps.map((step, i) => frame("video", (dts += i === 0 ? 0 : step), dts + 2 * step, i === 0))
        feed(track, frames)
        const expected = frames.map((f) => Math.round(((f.dts - start) * 90000) / timescale))
        let decodeTime = 0
        frames.forEach((f, i) => {
          assert.strictEqual(decodeTime, expected[i])
          const composition = Math.round(((f.pts - start) * 90000) / timescale) - expected[i]!
          assert.strictEqual(track.samples.compositionOffset(i), composition)
          decodeTime += track.samples.duration(i)
        })
        assert.strictEqual(track.presentationStart, frames[0]!.pts / timescale)
      }
    ), { numRuns: 200 }))

  it("AAC frames last exactly 1024 samples whatever the millisecond rounding of their timestamps", () =>
    fc.assert(fc.property(
      fc.constantFrom([44100, ASC_44100] as const, [48000, ASC_48000] as const),
      fc.integer({ min: 0, max: 10_000_000 }),
      fc.integer({ min: 2, max: 500 }),
      ([rate, asc], start, count) => {
        const track = new TrackRecording(1, audioTrack(rate, asc), undefined)
        const at = (i: number) => start + Math.round((i * 1024 * 1000) / rate)
        const frames = Array.from({ length: count }, (_, i) => frame("audio", at(i)))
        assert.deepStrictEqual([...new Set(feed(track, frames))], [1024])
        assert.strictEqual(track.presentationStart, start / 1000, "the start stays aligned to the first timestamp")
      }
    ), { numRuns: 100 }))

  it("a gap of lost AAC frames shows as one longer sample, so audio stays in sync after it", () => {
    const track = new TrackRecording(1, audioTrack(48000, ASC_48000), undefined)
    const at = (i: number) => Math.round((i * 1024 * 1000) / 48000)
    const indices = [0, 1, 2, 3, 6, 7, 8] // frames 4 and 5 were lost
    const durations = feed(track, indices.map((i) => frame("audio", at(i))))
    assert.deepStrictEqual(durations, [1024, 1024, 1024, 3072, 1024, 1024, 1024])
  })

  it("the AAC media timescale comes from the AudioSpecificConfig, which is what 1024-sample frames run at", () => {
    assert.strictEqual(new TrackRecording(0, audioTrack(44100, ASC_48000), undefined).mediaTimescale, 48000)
    assert.strictEqual(new TrackRecording(0, audioTrack(44100, Uint8Array.of()), undefined).mediaTimescale, 44100)
    assert.strictEqual(new TrackRecording(0, videoTrack(1000), undefined).mediaTimescale, 90000)
  })

  it("refuses a first video frame that is not a keyframe, and dts going backwards", () => {
    const track = new TrackRecording(0, videoTrack(1000), undefined)
    assert.strictEqual(track.rejects(frame("video", 0, 0, false)), "NotKeyframe")
    track.add(frame("video", 10), 0)
    assert.strictEqual(track.rejects(frame("video", 9, 9, false)), "DtsOutOfOrder")
    assert.isUndefined(track.rejects(frame("video", 10, 10, false)))
  })
})

describe("aacSampleRate", () => {
  const cases: ReadonlyArray<readonly [string, string, number | undefined]> = [
    ["AAC-LC 44.1 kHz (ffmpeg's sine source)", "1208", 44100],
    ["AAC-LC 48 kHz stereo", "1190", 48000],
    ["AAC-LC 8 kHz", "1588", 8000],
    ["explicit 24-bit rate (index 15)", "17800bb810", 6000],
    ["escaped object type 31", "f84840", 44100],
    ["too short", "12", undefined],
    ["reserved index 13", "1688", undefined]
  ]
  for (const [name, hex, rate] of cases) {
    it(name, () => assert.strictEqual(aacSampleRate(Buffer.from(hex, "hex")), rate))
  }
})
