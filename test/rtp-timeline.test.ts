/**
 * The RTP timeline: 32-bit RTP timestamps unwrapped and anchored onto a publication's dts, never decreasing, and
 * continued at a new base when a new connection brings a new random RTP clock.
 */
import { assert, describe, it } from "@effect/vitest"
import * as fc from "fast-check"
import { rtpDistance, RtpTimeline } from "../src/protocols/rtp/rtp-timeline.ts"

describe("RtpTimeline", () => {
  it("measures from the anchor and unwraps across 2^32", () => {
    const timeline = new RtpTimeline()
    timeline.start(0xffffff00, 1000)
    assert.deepStrictEqual([0xffffff00, 0xffffffff, 0x00000100, 0x00010000].map((ts) => timeline.toDts(ts)), [
      1000,
      1000 + 0xff,
      1000 + 0x200,
      1000 + 0x10100
    ])
  })

  it("anchors at the first frame when there is no RTP-Info", () => {
    const timeline = new RtpTimeline()
    timeline.start(undefined, 500)
    assert.deepStrictEqual([123456, 126456].map((ts) => timeline.toDts(ts)), [500, 3500])
  })

  it("never goes below the base or back in time", () => {
    const timeline = new RtpTimeline()
    timeline.start(10_000, 0)
    assert.deepStrictEqual([9_000, 13_000, 12_000, 16_000].map((ts) => timeline.toDts(ts)), [0, 3000, 3000, 6000])
  })

  it("continues a new segment at its base, whatever the new RTP clock says", () => {
    const timeline = new RtpTimeline()
    timeline.start(100, 0)
    timeline.toDts(100)
    timeline.toDts(90_100)
    timeline.stop()
    assert.isFalse(timeline.started)
    timeline.start(7, 180_000)
    assert.deepStrictEqual([7, 3007].map((ts) => timeline.toDts(ts)), [180_000, 183_000])
    timeline.start(5, 10)
    assert.strictEqual(timeline.toDts(5), 183_000, "a base behind the last dts is raised to it")
  })

  it("advances by exactly the RTP increments, across any number of wraps", () => {
    fc.assert(fc.property(
      fc.integer({ min: 0, max: 0xffffffff }),
      fc.array(fc.integer({ min: 0, max: 0x7fffffff }), { maxLength: 50 }),
      (first, steps) => {
        const timeline = new RtpTimeline()
        timeline.start(undefined, 0)
        let ts = first
        let expected = 0
        assert.strictEqual(timeline.toDts(ts), 0)
        for (const step of steps) {
          ts = (ts + step) >>> 0
          expected += step
          assert.strictEqual(timeline.toDts(ts), expected)
        }
      }
    ))
  })

  it("rtpDistance takes the short way round", () => {
    const distances = [rtpDistance(0xfffffff0, 0x10), rtpDistance(0x10, 0xfffffff0), rtpDistance(5, 5)]
    assert.deepStrictEqual(distances, [32, -32, 0])
  })
})
