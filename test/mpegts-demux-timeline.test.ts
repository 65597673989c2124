/**
 * The demuxer's timestamp timeline as properties: 33-bit wrap-around is invisible, and whatever a restarting sender
 * does to its timestamps, every stream's output stays non-decreasing and keeps each run's own spacing.
 */
import { assert, describe, it } from "@effect/vitest"
import * as fc from "fast-check"
import { TimestampTimeline, TS_CLOCK, wrappedDelta } from "../src/protocols/mpegts/timestamp-timeline.ts"

const WRAP = 2 ** 33
const JUMP = 5 * TS_CLOCK

describe("wrappedDelta", () => {
  it("is the short way around the 33-bit circle", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: WRAP - 1 }), fc.integer({ min: -(2 ** 31), max: 2 ** 31 }), (a, d) => {
        assert.strictEqual(wrappedDelta(a, (((a + d) % WRAP) + WRAP) % WRAP), d)
      })
    )
  })
})

describe("TimestampTimeline", () => {
  it("keeps the sender's own timestamps, unwrapped past 2^33", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: WRAP - 1 }),
        fc.array(fc.integer({ min: 0, max: 2 * TS_CLOCK }), { minLength: 1, maxLength: 200 }),
        (start, steps) => {
          const timeline = new TimestampTimeline(JUMP)
          let t = start
          let now = 0
          for (const step of steps) {
            const mapped = timeline.map("video", t % WRAP, (t + 3000) % WRAP, now)
            assert.strictEqual(mapped.dts, t)
            assert.strictEqual(mapped.pts, t + 3000)
            timeline.ended("video", t + step)
            t += step
            now += step / 90
          }
          assert.strictEqual(timeline.restarts, 0)
        }
      )
    )
  })

  /** A sender's run: where its clock starts, and its frames as (stream, step to the next frame). */
  const run = fc.record({
    start: fc.integer({ min: 0, max: WRAP - 1 }),
    idleMillis: fc.integer({ min: 0, max: 20_000 }),
    frames: fc.array(
      fc.record({ stream: fc.constantFrom("video", "audio"), step: fc.integer({ min: 0, max: 6000 }) }),
      { minLength: 1, maxLength: 60 }
    )
  })

  it("never goes backwards on a stream, whatever restarts happen, and keeps each run's spacing", () => {
    fc.assert(
      fc.property(fc.array(run, { minLength: 1, maxLength: 5 }), (runs) => {
        const timeline = new TimestampTimeline(JUMP)
        const last = new Map<string, number>()
        let now = 0
        for (const { start, idleMillis, frames } of runs) {
          now += idleMillis
          let t = start
          let firstOut: number | undefined
          let shift = 0
          for (const { stream, step } of frames) {
            const { dts } = timeline.map(stream, t % WRAP, -1, now)
            assert.isAtLeast(dts, last.get(stream) ?? -Infinity, `${stream} went backwards`)
            // Within a run the output moves with the input, except for forward shifts at a re-anchor.
            if (firstOut === undefined) firstOut = dts - (t - start)
            shift = Math.max(shift, dts - (firstOut + (t - start)))
            assert.strictEqual(dts, firstOut + (t - start) + shift)
            last.set(stream, dts)
            timeline.ended(stream, dts + 1)
            t += step
            now += step / 90
          }
        }
      })
    )
  })

  it("starts a restarted run after the last frame's end plus the wall-clock gap", () => {
    const timeline = new TimestampTimeline(JUMP)
    timeline.map("video", 1_000_000, -1, 0)
    timeline.ended("video", 1_003_000)
    timeline.map("audio", 1_001_000, -1, 0)
    timeline.ended("audio", 1_004_000)
    // The sender restarts 2 s later with its clock back at 126000.
    assert.strictEqual(timeline.map("audio", 126_000, -1, 2000).dts, 1_004_000 + 2 * TS_CLOCK)
    assert.strictEqual(timeline.restarts, 1)
    // Video of the new run, 3000 ticks earlier than its audio, keeps that distance.
    assert.strictEqual(timeline.map("video", 123_000, -1, 2000).dts, 1_001_000 + 2 * TS_CLOCK)
    assert.strictEqual(timeline.restarts, 1)
  })
})
