import { assert, describe, it } from "@effect/vitest"
import * as fc from "fast-check"
import { fixedMoovBytes, moovBytesBound } from "../src/containers/isobmff/moov-size.ts"
import { type RecordedTrack, reservedMoov } from "../src/containers/isobmff/recorded-media.ts"
import { sampleTableFor } from "../src/containers/isobmff/track-recording.ts"
import type { Track } from "../src/media/frame.ts"

const video: Track = {
  kind: "video",
  codec: "H264",
  timescale: 1000,
  width: 1920,
  height: 1080,
  config: new Uint8Array(48).fill(7)
}
const audio: Track = {
  kind: "audio",
  codec: "AAC",
  timescale: 1000,
  sampleRate: 44100,
  channels: 2,
  config: Uint8Array.of(0x12, 0x10)
}

interface SampleInput {
  readonly size: number
  readonly delta: number
  readonly offset: number
  readonly sync: boolean
  /** A chunk ends after this sample. */
  readonly cut: boolean
}

const sample: fc.Arbitrary<SampleInput> = fc.record({
  size: fc.oneof(fc.constant(371), fc.integer({ min: 0, max: 2 ** 24 })),
  delta: fc.oneof(fc.constantFrom(2970, 3060, 1024), fc.integer({ min: 0, max: 2 ** 20 })),
  offset: fc.oneof(fc.constant(0), fc.constantFrom(3000, 6000), fc.integer({ min: -(2 ** 20), max: 2 ** 20 })),
  sync: fc.boolean(),
  cut: fc.boolean()
})

interface TrackInput {
  readonly kind: "video" | "audio"
  readonly start: number
  readonly samples: ReadonlyArray<SampleInput>
}

const trackInput: fc.Arbitrary<TrackInput> = fc.record({
  kind: fc.constantFrom("video" as const, "audio" as const),
  start: fc.double({ min: 0, max: 5000, noNaN: true }),
  samples: fc.array(sample, { minLength: 1, maxLength: 300 })
})

/** Tracks built from inputs, chunks laid out one after the other from `base` (past 4 GiB to force co64). */
const recorded = (inputs: ReadonlyArray<TrackInput>, base: number): Array<RecordedTrack> => {
  let offset = base
  return inputs.map((input): RecordedTrack => {
    const track = input.kind === "video" ? video : audio
    const samples = sampleTableFor(track)
    let decodeTime = 0
    let pending = 0
    input.samples.forEach((s, i) => {
      samples.add(s.size, decodeTime, track.kind === "video" ? s.offset : 0, s.sync)
      decodeTime += s.delta
      pending++
      if (s.cut || i === input.samples.length - 1) {
        samples.addChunk(offset, pending)
        offset += 1 + pending
        pending = 0
      }
    })
    return { track, mediaTimescale: track.kind === "video" ? 90000 : 44100, samples, presentationStart: input.start,
      startOffset: undefined }
  })
}

describe("the moov size bound", () => {
  it("is never below the size of the moov the tables give (edits, co64, 64-bit times included)", () =>
    fc.assert(
      fc.property(
        fc.array(trackInput, { minLength: 1, maxLength: 3 }),
        fc.constantFrom(48, 2 ** 33),
        fc.integer({ min: 0, max: 2 ** 45 }),
        (inputs, base, creationTime) => {
          const tracks = recorded(inputs, base)
          const fixed = fixedMoovBytes(tracks.map((t) => t.track))
          const moov = reservedMoov({ tmpPath: "", layout: { _tag: "Plain" }, dataEnd: 0, creationTime,
            movieTimescale: 1000, tracks })
          assert.isAtLeast(moovBytesBound(fixed, tracks), moov.length)
        }
      ),
      { numRuns: 300 }
    ))

  it("stays close for a live stream's tables: within 10% over an hour of 1080p30 with B-frames and AAC", () => {
    const tracks = recorded([], 48)
    const v = sampleTableFor(video)
    const a = sampleTableFor(audio)
    let ai = 0
    let audioChunked = 0
    // RTMP millisecond timestamps on the 90 kHz clock (deltas 2970/3060), B-frame offsets, a chunk per 0.5 s.
    for (let i = 0; i < 3600 * 30; i++) {
      const dts = Math.round((i * 1000) / 30) * 90
      v.add(20000 + (i % 11), dts, [5940, 0, 2970][i % 3]!, i % 60 === 0)
      for (; ai * 1024 * 90000 <= dts * 44100; ai++) a.add(371 + (ai % 5), ai * 1024, 0, true)
      if (i % 15 === 14) {
        v.addChunk(i * 1e5, 15)
        a.addChunk(i * 1e5 + 5e4, a.sampleCount - audioChunked)
        audioChunked = a.sampleCount
      }
    }
    tracks.push(
      { track: video, mediaTimescale: 90000, samples: v, presentationStart: 0, startOffset: undefined },
      { track: audio, mediaTimescale: 44100, samples: a, presentationStart: 0, startOffset: undefined }
    )
    const fixed = fixedMoovBytes([video, audio])
    const moov = reservedMoov({ tmpPath: "", layout: { _tag: "Plain" }, dataEnd: 0, creationTime: 0,
      movieTimescale: 1000, tracks })
    const bound = moovBytesBound(fixed, tracks)
    assert.isAtLeast(bound, moov.length)
    assert.isAtMost(bound, moov.length * 1.1)
  })
})
