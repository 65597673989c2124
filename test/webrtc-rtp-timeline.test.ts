/**
 * RtpTimeline: 32-bit RTP timestamps become one monotonic timeline per track, across the wrap, with restarted
 * sender clocks bridged by the wall-clock gap so the timeline never goes back or leaps.
 */
import { assert, describe, it } from "@effect/vitest"
import fc from "fast-check"
import { RtpTimeline } from "../src/protocols/webrtc/rtp-timeline.ts"

const WRAP = 2 ** 32

describe("RtpTimeline", () => {
  it("unwraps timestamps exactly, whatever the start and across any number of wraps", () => {
    fc.assert(fc.property(
      fc.integer({ min: 0, max: WRAP - 1 }),
      // 20 ms to 2 s steps at 90 kHz, with their wall-clock time.
      fc.array(fc.integer({ min: 1_800, max: 180_000 }), { minLength: 1, maxLength: 300 }),
      (start, steps) => {
        const timeline = new RtpTimeline(90_000)
        let expected = timeline.advance(start, 0)
        assert.strictEqual(expected, start)
        let wall = 0
        for (const step of steps) {
          expected += step
          wall += (step / 90_000) * 1000
          assert.strictEqual(timeline.advance(expected % WRAP, wall), expected)
        }
        assert.strictEqual(timeline.discontinuities, 0)
      }
    ))
  })

  it("bridges a forward jump no clock makes with the wall-clock gap, and keeps the new offset", () => {
    const timeline = new RtpTimeline(48_000)
    const first = timeline.advance(1000, 0)
    timeline.advance(1960, 20)
    // The sender restarted its clock: an hour ahead, 20 ms later.
    const bridged = timeline.advance((1960 + 3600 * 48_000) % WRAP, 40)
    assert.strictEqual(bridged, first + 960 + 960)
    assert.strictEqual(timeline.discontinuities, 1)
    // The next packet continues from there by its own step.
    assert.strictEqual(timeline.advance((1960 + 3600 * 48_000 + 960) % WRAP, 60), bridged + 960)
  })

  it("bridges a backward jump of more than a second, and holds a small step back at the last time", () => {
    const timeline = new RtpTimeline(90_000)
    timeline.advance(900_000, 0)
    timeline.advance(903_000, 33)
    assert.strictEqual(timeline.advance(902_000, 66), 903_000, "a small step back is held")
    const restarted = timeline.advance(5, 100)
    assert.strictEqual(restarted, 903_000 + Math.round(0.034 * 90_000))
    assert.strictEqual(timeline.discontinuities, 1)
  })

  it("places a sender report's RTP time next to the packets, across the wrap, without moving", () => {
    const timeline = new RtpTimeline(90_000)
    assert.isUndefined(timeline.place(123))
    const at = timeline.advance(WRAP - 100, 0)
    assert.strictEqual(timeline.place(50), at + 150)
    assert.strictEqual(timeline.place(WRAP - 1000), at - 900)
    assert.strictEqual(timeline.advance(200, 10), at + 300)
  })
})
