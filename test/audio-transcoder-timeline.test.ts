import { assert, describe, it } from "@effect/vitest"
import fc from "fast-check"
import { OggOpusWriter, oggPage, opusHead } from "../src/pipelines/ogg-opus-writer.ts"
import { OPUS_SILENCE_PACKET, opusPacketSamples } from "../src/pipelines/opus-packet.ts"
import { opusOutput } from "../src/pipelines/transcoder-output.ts"
import {
  AAC_FRAME_SAMPLES,
  DROP,
  type TimelineOptions,
  TranscoderTimeline
} from "../src/pipelines/transcoder-timeline.ts"

describe("opusPacketSamples (RFC 6716 3.1, 3.2)", () => {
  const toc = (config: number, stereo: boolean, code: number) => (config << 3) | (stereo ? 4 : 0) | code
  it.each([
    { name: "SILK NB 10 ms", packet: [toc(0, false, 0), 1], samples: 480 },
    { name: "SILK WB 60 ms", packet: [toc(11, false, 0), 1], samples: 2880 },
    { name: "Hybrid SWB 10 ms", packet: [toc(12, true, 0), 1], samples: 480 },
    { name: "Hybrid FB 20 ms", packet: [toc(15, false, 0), 1], samples: 960 },
    { name: "CELT 2.5 ms", packet: [toc(16, false, 0), 1], samples: 120 },
    { name: "CELT FB 20 ms", packet: [toc(31, true, 0), 1, 2], samples: 960 },
    { name: "two equal frames (code 1)", packet: [toc(31, false, 1), 1, 2], samples: 1920 },
    { name: "two frames (code 2)", packet: [toc(16, false, 2), 1, 1, 2], samples: 240 },
    { name: "code 3, 6 frames of 20 ms", packet: [toc(31, false, 3), 6, 0], samples: 5760 },
    { name: "code 3 over 120 ms", packet: [toc(31, false, 3), 7, 0], samples: 0 },
    { name: "code 3 without count byte", packet: [toc(31, false, 3)], samples: 0 },
    { name: "empty", packet: [], samples: 0 },
    { name: "libopus silence", packet: [...OPUS_SILENCE_PACKET], samples: 960 }
  ])("$name: $samples samples", ({ packet, samples }) => {
    assert.strictEqual(opusPacketSamples(Uint8Array.from(packet)), samples)
  })
})

/** An input frame of a simulated publisher: true capture time (input samples), pts as sent, and length. */
interface SimFrame {
  readonly time: number
  readonly pts: number
  readonly samples: number
}

/**
 * Frames of a real-time source of `count` frames of `size` samples starting at `start`, some lost (`lost`), some
 * after silent stretches (DTX: `pauses` extra frames of nothing), timestamps off by up to `jitter` samples.
 */
const source = fc.record({
  start: fc.integer({ min: 0, max: 1_000_000 }),
  frames: fc.array(
    fc.record({
      lost: fc.integer({ min: 0, max: 9 }).map((n) => n === 0),
      pause: fc.oneof({ weight: 9, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.nat({ max: 100 }) }),
      jitter: fc.integer({ min: -48, max: 48 })
    }),
    { minLength: 1, maxLength: 300 }
  )
})

interface Fed {
  readonly position: number
  readonly time: number
}

/** Runs the timeline as the transcoder does and returns where each fed frame started in the stream. */
const simulate = (options: TimelineOptions, frames: ReadonlyArray<SimFrame>, canTrim: boolean) => {
  const timeline = new TranscoderTimeline(options)
  const fed: Array<Fed> = []
  for (const frame of frames) {
    const silence = timeline.place(frame.pts, frame.samples)
    if (silence === DROP) continue
    const trim = canTrim ? timeline.overlap : 0
    fed.push({ position: timeline.fed + silence, time: frame.time + trim })
    timeline.advance(silence + frame.samples - trim)
  }
  return { timeline, fed }
}

const OPUS: TimelineOptions = {
  inputRate: 48_000,
  inputTimescale: 48_000,
  outputRate: 44_100,
  silenceUnit: 960,
  maxFillSamples: 48_000 * 10
}

describe("TranscoderTimeline", () => {
  it("keeps every Opus frame within one frame of its input time, however packets are lost, paused or jittered", () => {
    fc.assert(fc.property(source, ({ start, frames }) => {
      const sim: Array<SimFrame> = []
      let time = start
      for (const f of frames) {
        time += f.pause * 960
        if (!f.lost) sim.push({ time, pts: time + f.jitter, samples: 960 })
        time += 960
      }
      const first = sim[0]
      if (first === undefined) return
      const { fed } = simulate(OPUS, sim, false)
      for (const f of fed) {
        const error = f.position - (f.time - first.time)
        // Late at most half a silence packet plus jitter, early at most one frame plus jitter: never accumulating.
        assert.isAtLeast(error, -480 - 96)
        assert.isBelow(error, 960 + 96)
      }
    }))
  })

  it("places G.711 frames exactly, trimming overlaps and filling gaps sample for sample", () => {
    const pcm = { ...OPUS, inputRate: 8000, inputTimescale: 8000, silenceUnit: 1, maxFillSamples: 80_000 }
    const frame = fc.record({ gap: fc.integer({ min: -100, max: 4000 }), size: fc.integer({ min: 80, max: 320 }) })
    const frames = fc.array(frame, { minLength: 1, maxLength: 200 })
    fc.assert(fc.property(frames, (list) => {
      let time = 0
      const sim = list.map(({ gap, size }) => {
        time = Math.max(0, time + gap)
        const frame = { time, pts: time, samples: size }
        time += size
        return frame
      })
      const { fed } = simulate(pcm, sim, true)
      for (const f of fed) assert.strictEqual(f.position, f.time - sim[0]!.time)
    }))
  })

  it("gives output frames the input's pts, 1024 apart, from the first frame's converted pts", () => {
    const timeline = new TranscoderTimeline(OPUS)
    assert.strictEqual(timeline.place(96_000, 960), 0) // 2 s on the input clock
    timeline.advance(960)
    const first = (96_000 * 44_100) / 48_000
    for (let k = 0; k < 5; k++) assert.strictEqual(timeline.framePts(k), first + k * AAC_FRAME_SAMPLES)
  })

  it("drops a frame that lies wholly before what was fed, and counts it", () => {
    const timeline = new TranscoderTimeline(OPUS)
    timeline.place(0, 960)
    timeline.advance(960)
    assert.strictEqual(timeline.place(0, 960), DROP)
    assert.strictEqual(timeline.lateFrames, 1)
    assert.strictEqual(timeline.place(960, 960), 0)
  })

  it("fills gaps up to the limit with silence and jumps the output timestamps over longer ones", () => {
    const timeline = new TranscoderTimeline({ ...OPUS, outputRate: 48_000, maxFillSamples: 48_000 })
    timeline.place(0, 960)
    timeline.advance(960)
    // 0.5 s gap: filled.
    assert.strictEqual(timeline.place(960 + 24_000, 960), 24_000)
    timeline.advance(24_000 + 960)
    // 60 s gap: no silence; the stream continues and the output pts jumps by 60 s at this position.
    const position = timeline.fed
    assert.strictEqual(timeline.place(position + 48_000 * 60, 960), 0)
    timeline.advance(960)
    assert.strictEqual(timeline.jumps, 1)
    const before = Math.floor(position / AAC_FRAME_SAMPLES)
    assert.strictEqual(timeline.framePts(before), before * AAC_FRAME_SAMPLES)
    assert.strictEqual(timeline.framePts(before + 1), (before + 1) * AAC_FRAME_SAMPLES + 48_000 * 60)
  })

  it("carries on without going backwards when the input clock is reset", () => {
    const timeline = new TranscoderTimeline({ ...OPUS, outputRate: 48_000, maxFillSamples: 48_000 })
    timeline.place(10_000_000, 960)
    timeline.advance(960)
    assert.strictEqual(timeline.place(0, 960), 0)
    timeline.advance(960)
    assert.strictEqual(timeline.place(960, 960), 0)
    assert.strictEqual(timeline.framePts(0), 10_000_000)
    assert.strictEqual(timeline.framePts(1), 10_000_000 + AAC_FRAME_SAMPLES)
  })
})

/** RTMP's AAC: 1024-sample frames at 44.1 kHz stamped in whole milliseconds. */
const AAC_RTMP: TimelineOptions = {
  inputRate: 44_100,
  inputTimescale: 1000,
  outputRate: 48_000,
  silenceUnit: 1024,
  maxFillSamples: 44_100 * 10
}

describe("TranscoderTimeline with AAC in and Opus out", () => {
  it("keeps every AAC frame within one frame of its input time, with millisecond pts, losses and pauses", () => {
    fc.assert(fc.property(source, ({ start, frames }) => {
      const sim: Array<SimFrame> = []
      let time = start
      for (const f of frames) {
        time += f.pause * 1024
        if (!f.lost) sim.push({ time, pts: Math.round((time * 1000) / 44_100), samples: 1024 })
        time += 1024
      }
      const first = sim[0]
      if (first === undefined) return
      const { fed } = simulate(AAC_RTMP, sim, false)
      for (const f of fed) {
        const error = f.position - (f.time - first.time)
        // Half a silence frame late, one frame early, plus the 0.5 ms rounding of each pts: never accumulating.
        assert.isAtLeast(error, -512 - 23 - 23)
        assert.isBelow(error, 1024 + 23 + 23)
      }
    }))
  })

  /** ffmpeg's libopus output as opusOutput reads it: OpusHead (pre-skip 312), OpusTags, `count` 20 ms packets. */
  const oggOpus = (count: number, channels = 2) => {
    const writer = new OggOpusWriter(3)
    const pages = [writer.headers(channels)]
    for (let i = 0; i < count; i++) pages.push(writer.packet(OPUS_SILENCE_PACKET, 960))
    return new Uint8Array(Buffer.concat(pages))
  }

  const run = (timeline: TranscoderTimeline, bytes: Uint8Array, fedOutputSamples: number, channels = 2) => {
    const frames: Array<{ pts: number }> = []
    const errors: Array<string> = []
    const track = { kind: "audio", codec: "OPUS", timescale: 48_000, sampleRate: 48_000, channels } as const
    const reader = opusOutput({ ...track, config: new Uint8Array(0) }, {
      timeline,
      fedOutputSamples: () => fedOutputSamples,
      onFrame: (frame) => frames.push(frame),
      report: (message) => errors.push(message)
    })
    // In pieces, as a pipe delivers them.
    for (let at = 0; at < bytes.length; at += 100) reader.push(bytes.subarray(at, at + 100))
    return { frames, errors, framesOut: reader.framesOut() }
  }

  it("stamps packet k at the input time of its stream sample k * 960 - pre-skip", () => {
    const timeline = new TranscoderTimeline(AAC_RTMP)
    // The first AAC frame at 10 s on the RTMP clock; 50 frames fed (1.16 s).
    timeline.place(10_000, 1024)
    timeline.advance(50 * 1024)
    const fed = (50 * 1024 * 48_000) / 44_100
    const { frames, errors, framesOut } = run(timeline, oggOpus(70), fed)
    assert.deepStrictEqual(errors, [])
    // Packets that start after the last input sample are the encoder's flush padding: dropped.
    const kept = Math.ceil((fed + 312) / 960)
    assert.strictEqual(framesOut, kept)
    frames.forEach((frame, k) => assert.strictEqual(frame.pts, 480_000 + k * 960 - 312))
  })

  it("carries the pre-skip across a jump of the input clock", () => {
    // Sample-exact pts (an RTP clock), so that the expected jump is exactly 60 s.
    const timeline = new TranscoderTimeline({ ...AAC_RTMP, inputTimescale: 44_100, maxFillSamples: 44_100 })
    timeline.place(0, 1024)
    timeline.advance(1024 * 10)
    // 60 s later: no silence, the output timestamps jump at this stream position.
    assert.strictEqual(timeline.place(60 * 44_100 + 1024 * 10, 1024), 0)
    timeline.advance(1024 * 10)
    const { frames } = run(timeline, oggOpus(30), (20 * 1024 * 48_000) / 44_100)
    const jumpAt = (10 * 1024 * 48_000) / 44_100
    frames.forEach((frame, k) => {
      const start = k * 960 - 312
      assert.strictEqual(frame.pts, start < jumpAt ? start : start + 60 * 48_000, `packet ${k}`)
    })
  })

  it("reports an Ogg stream that is not the Opus it asked for", () => {
    const timeline = new TranscoderTimeline(AAC_RTMP)
    timeline.place(0, 1024)
    timeline.advance(1024)
    const notOpus = oggPage(new TextEncoder().encode("\x01vorbis"), 0, 1, 0, 0x02)
    assert.match(run(timeline, notOpus, 1000).errors[0]!, /does not start with an OpusHead/)
    const mono = Buffer.concat([oggPage(opusHead(1), 0, 1, 0, 0x02)])
    assert.match(run(timeline, new Uint8Array(mono), 1000, 2).errors[0]!, /Opus of 1 channels from 48000 Hz/)
  })
})
