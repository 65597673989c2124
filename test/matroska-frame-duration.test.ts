/** Codec frame durations: Opus TOC sizes against libopus packets as ffmpeg muxed them, and the fixed-size codecs. */
import * as fs from "node:fs"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { ALL_FORMATS, EncodedPacketSink, FilePathSource, Input } from "mediabunny"
import { afterAll, beforeAll } from "vitest"
import { codecFrameSeconds } from "../src/containers/matroska/frame-duration.ts"
import type { Track } from "../src/media/frame.ts"
import { makeSource, tempDir } from "./fixtures/containers/source-media.ts"

const audio = (codec: Track["codec"], sampleRate: number, channels = 1): Track =>
  ({ kind: "audio", codec, timescale: sampleRate, sampleRate, channels, config: new Uint8Array(0) }) as Track

let dir = ""
beforeAll(() => {
  dir = tempDir("frame-duration")
})
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }))

describe("codecFrameSeconds", () => {
  const opus = audio("OPUS", 48_000, 2)
  const toc: ReadonlyArray<readonly [bytes: ReadonlyArray<number>, seconds: number]> = [
    [[(1 << 3) | 0], 0.02], // SILK NB 20 ms, one frame
    [[(3 << 3) | 0], 0.06], // SILK NB 60 ms
    [[(13 << 3) | 1], 0.04], // Hybrid FB 20 ms, two frames
    [[(16 << 3) | 0], 0.0025], // CELT NB 2.5 ms
    [[(31 << 3) | 2], 0.04], // CELT FB 20 ms, two frames of different sizes
    [[(31 << 3) | 3, 3], 0.06] // CELT FB 20 ms, code 3 with three frames
  ]
  it("reads the Opus TOC byte (RFC 6716 3.1, 3.2)", () => {
    for (const [bytes, seconds] of toc) {
      assert.approximately(codecFrameSeconds(opus, Uint8Array.from([...bytes, 0, 0])) ?? -1, seconds, 1e-9, `${bytes}`)
    }
  })

  it.live("agrees with the durations of libopus packets muxed by ffmpeg", () =>
    Effect.gen(function*() {
      const file = makeSource(dir, "vp8-opus.webm", 2)
      const packets = yield* Effect.promise(async () => {
        const input = new Input({ source: new FilePathSource(file), formats: ALL_FORMATS })
        const track = (await input.getAudioTracks())[0]!
        const out: Array<{ data: Uint8Array; timestamp: number }> = []
        for await (const p of new EncodedPacketSink(track).packets()) {
          out.push({ data: p.data.slice(), timestamp: p.timestamp })
        }
        input.dispose()
        return out
      })
      assert.isAbove(packets.length, 50)
      // WebM blocks carry no duration: each packet lasts until the next one starts (ms timestamps).
      packets.slice(0, -1).forEach((p, i) => {
        assert.approximately(codecFrameSeconds(opus, p.data) ?? -1, packets[i + 1]!.timestamp - p.timestamp, 0.0011)
      })
    }))

  it("derives fixed-size codecs from the track and the payload size", () => {
    assert.approximately(codecFrameSeconds(audio("AAC", 44_100), new Uint8Array(300))!, 1024 / 44_100, 1e-12)
    assert.approximately(codecFrameSeconds(audio("PCMA", 8_000), new Uint8Array(160))!, 0.02, 1e-12)
    assert.approximately(codecFrameSeconds(audio("PCMU", 8_000, 2), new Uint8Array(320))!, 0.02, 1e-12)
    assert.approximately(codecFrameSeconds(audio("G722", 8_000), new Uint8Array(160))!, 0.02, 1e-12)
    const video: Track = {
      kind: "video",
      codec: "VP8",
      timescale: 90_000,
      width: 2,
      height: 2,
      config: new Uint8Array(0)
    }
    assert.isUndefined(codecFrameSeconds(video, new Uint8Array(10)))
  })
})
