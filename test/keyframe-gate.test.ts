import { assert, describe, it } from "@effect/vitest"
import fc from "fast-check"
import type { Frame } from "../src/media/frame.ts"
import type { GateInput } from "../src/pipelines/keyframe-gate.ts"
import { AUDIO_LEAD_SECONDS, KeyframeGate } from "../src/pipelines/keyframe-gate.ts"

const input = (kind: Frame["kind"], seconds: number, keyframe = kind === "audio"): GateInput => ({
  trackIndex: kind === "video" ? 0 : 1,
  seconds,
  frame: { kind, dts: Math.round(seconds * 1000), pts: Math.round(seconds * 1000), keyframe, data: new Uint8Array(1) }
})

const isKey = (item: GateInput): boolean => item.frame.kind === "video" && item.frame.keyframe

/**
 * A publisher's arrival order: video and audio each move forward in time, interleaved at random, with audio
 * allowed to run ahead of video (as RTMP encoders often send it), so some audio arrives before the keyframe it
 * belongs after.
 */
const arrivalsArb = fc.record({
  video: fc.array(fc.record({ gap: fc.integer({ min: 0, max: 100 }), keyframe: fc.boolean() }), { maxLength: 40 }),
  audio: fc.array(fc.integer({ min: 0, max: 60 }), { maxLength: 60 }),
  audioLead: fc.integer({ min: -500, max: 500 }),
  order: fc.array(fc.boolean(), { minLength: 100, maxLength: 100 })
}).map(({ audio, audioLead, order, video }) => {
  let videoMs = 1000
  const videoInputs = video.map(({ gap, keyframe }) => input("video", (videoMs += gap) / 1000, keyframe))
  let audioMs = 1000 + audioLead
  const audioInputs = audio.map((gap) => input("audio", (audioMs += gap) / 1000))
  const arrivals: Array<GateInput> = []
  let v = 0
  let a = 0
  for (let i = 0; v < videoInputs.length || a < audioInputs.length; i++) {
    const takeVideo = a >= audioInputs.length || (v < videoInputs.length && order[i % order.length])
    arrivals.push(takeVideo ? videoInputs[v++]! : audioInputs[a++]!)
  }
  return arrivals
})

describe("KeyframeGate with video", () => {
  it("records nothing before the first video keyframe, then starts with it and the buffered audio due after it", () => {
    fc.assert(fc.property(arrivalsArb, fc.integer({ min: 0, max: 8 }), (arrivals, audioBufferMax) => {
      const gate = new KeyframeGate({ hasVideo: true, audioBufferMax })
      const outputs = arrivals.map((item) => gate.step(item))
      const k = arrivals.findIndex(isKey)
      if (k < 0) {
        assert.isTrue(outputs.every((out) => out.length === 0))
        assert.isFalse(gate.isOpen)
        return
      }
      const key = arrivals[k]!
      assert.isTrue(outputs.slice(0, k).every((out) => out.length === 0), "nothing before the keyframe")
      assert.strictEqual(gate.startSeconds, key.seconds)
      const [first, ...released] = outputs[k]!
      assert.strictEqual(first, key)
      // The buffer keeps the latest audioBufferMax packets; of those, audio from just before the keyframe on is kept.
      const audioBefore = arrivals.slice(0, k).filter((item) => item.frame.kind === "audio")
      const buffered = audioBefore.slice(Math.max(0, audioBefore.length - audioBufferMax))
      assert.deepStrictEqual(released, buffered.filter((item) => item.seconds >= key.seconds - AUDIO_LEAD_SECONDS))
      assert.isAtMost(released.length, audioBufferMax)
    }), { numRuns: 300 })
  })

  it("after the keyframe, passes every frame from its time on and drops late audio from before it", () => {
    fc.assert(fc.property(arrivalsArb, (arrivals) => {
      const gate = new KeyframeGate({ hasVideo: true, audioBufferMax: 100 })
      const k = arrivals.findIndex(isKey)
      arrivals.slice(0, k + 1).forEach((item) => gate.step(item))
      const start = k < 0 ? undefined : arrivals[k]!.seconds
      for (const item of arrivals.slice(k + 1)) {
        const expected = start !== undefined && item.seconds >= start - AUDIO_LEAD_SECONDS ? [item] : []
        assert.deepStrictEqual(gate.step(item), expected)
      }
    }))
  })

  it("releases audio that ran ahead of the keyframe, up to the buffer size", () => {
    const gate = new KeyframeGate({ hasVideo: true, audioBufferMax: 2 })
    const early = [input("audio", 0.9), input("audio", 1.0), input("audio", 1.1), input("audio", 1.2)]
    for (const item of [input("video", 0.8, false), ...early]) assert.deepStrictEqual(gate.step(item), [])
    const key = input("video", 1.0, true)
    // 0.9 is before the keyframe; 1.0 fell out of the 2-packet buffer; 1.1 and 1.2 are released after the keyframe.
    assert.deepStrictEqual(gate.step(key), [key, early[2], early[3]])
  })

  it("holds no audio at all with a buffer size of 0", () => {
    const gate = new KeyframeGate({ hasVideo: true, audioBufferMax: 0 })
    assert.deepStrictEqual(gate.step(input("audio", 2)), [])
    const key = input("video", 1, true)
    assert.deepStrictEqual(gate.step(key), [key])
  })
})

describe("KeyframeGate audio-only", () => {
  it("passes every frame through from the first one on", () => {
    fc.assert(fc.property(
      fc.array(fc.integer({ min: 0, max: 60 }), { maxLength: 100 }),
      fc.integer({ min: 0, max: 8 }),
      (gaps, audioBufferMax) => {
        const gate = new KeyframeGate({ hasVideo: false, audioBufferMax })
        let ms = 0
        for (const gap of gaps) {
          const item = input("audio", (ms += gap) / 1000, false)
          assert.deepStrictEqual(gate.step(item), [item])
        }
        assert.strictEqual(gate.isOpen, gaps.length > 0)
        if (gaps.length > 0) assert.strictEqual(gate.startSeconds, gaps[0]! / 1000)
      }
    ))
  })
})
