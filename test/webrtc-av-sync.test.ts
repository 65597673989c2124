/**
 * AvSync: the tracks of a WebRTC publication placed on one timeline. Sender reports tie each RTP clock to the
 * sender's wall clock; without them the first frames' arrival times stand in. Tracks are declared before their
 * first frame, the hold is bounded, and decode times never go back.
 */
import { assert, describe, it } from "@effect/vitest"
import fc from "fast-check"
import type { AudioTrack, Frame, Track, VideoTrack } from "../src/media/frame.ts"
import { AvSync } from "../src/protocols/webrtc/av-sync.ts"

const video: VideoTrack = {
  kind: "video",
  codec: "VP8",
  timescale: 90_000,
  width: 640,
  height: 480,
  config: new Uint8Array(0)
}
const opus: AudioTrack = {
  kind: "audio",
  codec: "OPUS",
  timescale: 48_000,
  sampleRate: 48_000,
  channels: 2,
  config: new Uint8Array(0)
}
const bytes = new Uint8Array([1])

type Output = { readonly track: Track } | { readonly frame: Frame }

const collecting = (options: { readonly holdMs?: number; readonly maxHeldFrames?: number } = {}) => {
  const out: Array<Output> = []
  const sync = new AvSync({
    kinds: ["video", "audio"],
    sink: { track: (track) => out.push({ track }), frame: (frame) => out.push({ frame }) },
    ...options
  })
  const frames = (kind: Frame["kind"]) =>
    out.flatMap((o) => ("frame" in o && o.frame.kind === kind ? [o.frame] : []))
  return { out, sync, frames }
}

describe("AvSync", () => {
  it("places the tracks by their sender reports, exactly, whatever their RTP clocks start at", () => {
    fc.assert(fc.property(
      fc.integer({ min: 0, max: 2 ** 40 }),
      fc.integer({ min: 0, max: 2 ** 40 }),
      fc.integer({ min: 0, max: 2_000 }),
      (videoBase, audioBase, audioLateMs) => {
        const { sync, frames } = collecting()
        const wall = 3_900_000_000 // NTP seconds of the first video frame's capture
        // Video frames every 1/30 s from its base; audio frames every 20 ms from `audioLateMs` later.
        sync.frame("video", video, videoBase, true, bytes, 0)
        sync.frame("audio", opus, audioBase, true, bytes, audioLateMs)
        sync.frame("video", video, videoBase + 3000, false, bytes, 33)
        assert.isFalse(sync.released)
        sync.senderReport("video", wall + 1, videoBase + 90_000, 100)
        sync.senderReport("audio", wall + audioLateMs / 1000 + 2, audioBase + 96_000, 101)
        assert.strictEqual(sync.alignment, "sender-reports")
        sync.frame("audio", opus, audioBase + 960, true, bytes, 120)
        assert.deepStrictEqual(frames("video").map((f) => f.dts), [0, 3000])
        const audioStart = Math.round((audioLateMs / 1000) * 48_000)
        assert.deepStrictEqual(frames("audio").map((f) => f.dts), [audioStart, audioStart + 960])
      }
    ))
  })

  it("declares each track before its first frame, and again only when its configuration object changes", () => {
    const { out, sync } = collecting({ holdMs: 0 })
    sync.frame("video", video, 0, true, bytes, 0)
    sync.frame("audio", opus, 0, true, bytes, 0)
    sync.frame("video", video, 3000, false, bytes, 33)
    const resized = { ...video, width: 1280, height: 720 }
    sync.frame("video", resized, 6000, true, bytes, 66)
    assert.deepStrictEqual(out.map((o) => ("track" in o ? `track ${o.track.kind}` : `frame ${o.frame.kind}`)), [
      "track video",
      "frame video",
      "track audio",
      "frame audio",
      "frame video",
      "track video",
      "frame video"
    ])
  })

  it("falls back to arrival times when a sender report is still missing after the hold", () => {
    const { sync, frames } = collecting({ holdMs: 1000 })
    sync.frame("audio", opus, 5_000_000, true, bytes, 10_000)
    sync.senderReport("audio", 3_900_000_000, 5_000_000, 10_050)
    sync.frame("video", video, 77, true, bytes, 10_250)
    sync.frame("audio", opus, 5_000_960, true, bytes, 10_020)
    assert.isFalse(sync.released)
    sync.tick(10_999)
    assert.isFalse(sync.released)
    sync.tick(11_000)
    assert.strictEqual(sync.alignment, "arrival")
    assert.deepStrictEqual(frames("audio").map((f) => f.dts), [0, 960])
    assert.deepStrictEqual(frames("video").map((f) => f.dts), [0.25 * 90_000])
  })

  it("ends the hold when it holds too many frames", () => {
    const { sync, frames } = collecting({ holdMs: 60_000, maxHeldFrames: 10 })
    for (let i = 0; i < 10; i++) sync.frame("audio", opus, i * 960, true, bytes, i * 20)
    assert.strictEqual(sync.alignment, "arrival")
    assert.strictEqual(frames("audio").length, 10)
  })

  it("places a track that starts after the hold by its arrival on the shared timeline", () => {
    const { sync, frames } = collecting({ holdMs: 500 })
    sync.frame("audio", opus, 100, true, bytes, 1000)
    sync.tick(1500)
    sync.frame("video", video, 9_999, true, bytes, 3000)
    assert.deepStrictEqual(frames("video").map((f) => f.dts), [2 * 90_000])
  })

  it("never lets a decode time go back", () => {
    const { sync, frames } = collecting({ holdMs: 0 })
    sync.frame("video", video, 10_000, true, bytes, 0)
    sync.frame("video", video, 13_000, false, bytes, 33)
    sync.frame("video", video, 12_000, false, bytes, 66)
    assert.deepStrictEqual(frames("video").map((f) => f.dts), [0, 3000, 3000])
    assert.strictEqual(sync.clamped, 1)
  })

  it("releases what it holds when the publication ends during the hold", () => {
    const { sync, frames } = collecting()
    sync.frame("audio", opus, 0, true, bytes, 0)
    sync.flush()
    assert.strictEqual(frames("audio").length, 1)
  })
})
