/**
 * End to end: the real `capstan serve` process, real ffmpeg publishers over RTMP, and every recording
 * judged by ffprobe against the very stream ffmpeg sent (written alongside with the tee muxer), and read back with
 * mediabunny to compare with that stream packet for packet.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import { type CapstanProcess, startCapstan } from "./support/capstan-process.ts"
import { ffmpegPublish, startPublish } from "./support/ffmpeg-publish.ts"
import { countFrames, decodeErrors, packets, probe, topLevelBoxes } from "./support/ffprobe.ts"
import { assertCoversPublish, assertRoundTrip, readReference } from "./support/packet-compare.ts"
import { until } from "./support/wait.ts"

const recordingNamed = (server: CapstanProcess, name: string) =>
  until(`${name} in ${server.recordDir}`, () => {
    const file = path.join(server.recordDir, name)
    return fs.existsSync(file) ? file : undefined
  })

/** Presentation times in milliseconds of a stream's packets, in decode order, from the file's earliest start. */
const ptsMillis = (file: string, stream: number) => {
  const streams = probe(file).streams
  const origin = Math.min(...streams.map((s) => Number(s.start_time)))
  const timeBase = timeBaseOf(file, stream)
  return packets(file, stream).map((packet) => Math.round((packet.pts * timeBase - origin) * 1000))
}

const timeBaseOf = (file: string, stream: number) => {
  const [num, den] = probe(file).streams[stream]!.time_base.split("/").map(Number)
  return num! / den!
}

/**
 * Checks a recording against the reference FLV: codecs, every frame, pts order, duration, clean decode, and the
 * round trip through mediabunny's demuxer: every published packet, the same bytes at the same times.
 */
const assertSameMedia = async (recording: string, reference: string, seconds: number) => {
  const probed = probe(recording)
  assert.deepStrictEqual(probed.streams.map((s) => s.codec_name), ["h264", "aac"])
  assert.strictEqual(countFrames(recording, 0), countFrames(reference, 0), "every video frame is recorded")
  assert.strictEqual(countFrames(recording, 1), countFrames(reference, 1), "every audio frame is recorded")
  for (const stream of [0, 1]) {
    const recordedPts = ptsMillis(recording, stream)
    const referencePts = ptsMillis(reference, stream)
    assert.strictEqual(recordedPts.length, referencePts.length)
    // Same presentation times and order, A/V offsets kept, within the rounding of FLV's millisecond clock.
    recordedPts.forEach((pts, i) =>
      assert.isAtMost(Math.abs(pts - referencePts[i]!), 2, `pts of packet ${i} of stream ${stream}`)
    )
  }
  assert.isAtMost(Math.abs(Number(probed.format.duration) - seconds), 0.1, "duration")
  assert.strictEqual(decodeErrors(recording), "", "decodes without errors")
  const media = readReference(reference)
  assertCoversPublish(media, [await assertRoundTrip(recording, media, "mp4")])
}

describe("recording RTMP publishes to MP4", () => {
  let server: CapstanProcess

  beforeAll(async () => {
    server = await startCapstan({ stream_record_policy_template: "{streamName}" })
  })
  afterAll(async () => {
    await server?.stop()
  })

  it.each([
    { name: "no-bframes", bframes: 0 },
    { name: "bframes", bframes: 2 }
  ])("records H.264 ($name) + AAC with every frame, in presentation order, moov first", async ({ name, bframes }) => {
    const reference = path.join(server.dir, `${name}.flv`)
    const published = await ffmpegPublish({
      url: `rtmp://127.0.0.1:${server.rtmpPort}/live/${name}`,
      seconds: 4,
      bframes,
      referenceFlv: reference
    })
    assert.strictEqual(published.code, 0, published.stderr)
    const recording = await recordingNamed(server, `${name}.mp4`)
    await assertSameMedia(recording, reference, 4)
    const boxes = topLevelBoxes(recording).map((box) => box.type)
    assert.isBelow(boxes.indexOf("moov"), boxes.indexOf("mdat"), `moov before mdat: ${boxes.join(",")}`)
    if (bframes > 0) {
      const pts = packets(recording, 0).map((p) => p.pts)
      const dts = packets(recording, 0).map((p) => p.dts)
      assert.isTrue(pts.some((p, i) => p !== dts[i]), "B-frames keep their composition offsets")
    }
  })

  it("keeps other sessions recording when one publisher dies, and still finalizes the dead one's file", async () => {
    const survivor = startPublish({
      url: `rtmp://127.0.0.1:${server.rtmpPort}/live/survivor`,
      seconds: 5,
      realtime: true,
      referenceFlv: path.join(server.dir, "survivor.flv")
    })
    const victim = startPublish({ url: `rtmp://127.0.0.1:${server.rtmpPort}/live/victim`, seconds: 30, realtime: true })
    await server.waitForLog(/RTMP publish victim as media session/)
    await new Promise((resolve) => setTimeout(resolve, 2500))
    victim.kill("SIGKILL")
    const killed = await recordingNamed(server, "victim.mp4")
    assert.strictEqual(decodeErrors(killed), "")
    assert.isAtLeast(countFrames(killed, 0), 30, "what arrived before the kill is in the file")
    assert.strictEqual((await survivor.done).code, 0)
    const survived = await recordingNamed(server, "survivor.mp4")
    await assertSameMedia(survived, path.join(server.dir, "survivor.flv"), 5)
  })
})

describe("moov placement", () => {
  it("writes moov after mdat when mp4_container_moov_first=false", async () => {
    const server = await startCapstan({ stream_record_policy_template: "{streamName}", mp4_container_moov_first: "false" })
    try {
      const reference = path.join(server.dir, "last.flv")
      await ffmpegPublish({ url: `rtmp://127.0.0.1:${server.rtmpPort}/live/last`, seconds: 2, referenceFlv: reference })
      const recording = await recordingNamed(server, "last.mp4")
      const boxes = topLevelBoxes(recording).map((box) => box.type)
      assert.isAbove(boxes.indexOf("moov"), boxes.indexOf("mdat"), `moov after mdat: ${boxes.join(",")}`)
      await assertSameMedia(recording, reference, 2)
    } finally {
      await server.stop()
    }
  })
})
