/**
 * Issue #5 end to end: the whole server records an RTMP publish of H.264 + AAC with record_formats=h264-webm, and
 * since WebM cannot hold AAC the session transcodes the audio to Opus. The file is judged by ffprobe, ffmpeg and
 * mkvmerge: H.264 + Opus, the audio as long as the video and starting with it, a clean decode, and a seek to the
 * middle that lands there. Read back with mediabunny, the video is the published one packet for packet and the
 * Opus audio is as long as the published AAC.
 */
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { startCapstan } from "./support/capstan-process.ts"
import { startPublish } from "./support/ffmpeg-publish.ts"
import { countFrames, decodeErrors, probe } from "./support/ffprobe.ts"
import { until } from "./support/wait.ts"
import { packetSpan } from "./fixtures/audio-transcoder/beeps.ts"
import { mkvmergeIdentify } from "./fixtures/containers/media-judges.ts"
import { readBack } from "./fixtures/containers/source-media.ts"
import { assertTranscodedAudio, assertVideoMatches, readReference } from "./support/packet-compare.ts"

const SECONDS = 8

/** Packets (pts in seconds, key flag) of the streams of `type` that ffprobe reads after seeking to `at` seconds. */
const packetsAfterSeek = (file: string, type: "v" | "a", at: number) => {
  const result = spawnSync("ffprobe", ["-v", "error", "-of", "json", "-select_streams", `${type}:0`,
    "-read_intervals", `${at}%+1`, "-show_entries", "packet=pts_time,flags", file], { encoding: "utf8" })
  assert.strictEqual(result.status, 0, result.stderr)
  return (JSON.parse(result.stdout).packets ?? []).map((p: { pts_time: string; flags: string }) => ({
    pts: Number(p.pts_time),
    keyframe: p.flags.includes("K")
  })) as Array<{ pts: number; keyframe: boolean }>
}

describe("record_formats=h264-webm with AAC audio", () => {
  it("transcodes RTMP's AAC to Opus: H.264 + Opus in sync, decodable and seekable", async () => {
    const server = await startCapstan({ stream_record_policy_template: "{streamName}", record_formats: "h264-webm" })
    try {
      const reference = path.join(server.dir, "webmaac.flv")
      // In real time, as a camera or OBS publishes: the transcoded audio comes back alongside the video.
      const publish = startPublish({
        url: `rtmp://127.0.0.1:${server.rtmpPort}/live/webmaac`,
        seconds: SECONDS,
        realtime: true,
        referenceFlv: reference
      })
      const published = await publish.done
      assert.strictEqual(published.code, 0, published.stderr)
      const file = await until("webmaac.webm", () => {
        const target = path.join(server.recordDir, "webmaac.webm")
        return fs.existsSync(target) ? target : undefined
      }, 30_000)

      const probed = probe(file)
      assert.strictEqual(probed.format.format_name, "matroska,webm")
      assert.deepStrictEqual(probed.streams.map((s) => s.codec_name), ["h264", "opus"])
      const opus = probed.streams[1]!
      assert.strictEqual(Number(opus.sample_rate), 48_000)
      assert.strictEqual(opus.channels, 2)
      const identified = mkvmergeIdentify(file)
      assert.isTrue(identified.recognized && identified.supported)
      assert.strictEqual(identified.type, "Matroska")
      assert.deepStrictEqual(identified.errors, [])
      assert.deepStrictEqual(identified.tracks.map((t) => t.codecId), ["V_MPEG4/ISO/AVC", "A_OPUS"])
      assert.strictEqual(decodeErrors(file), "")
      assert.strictEqual(countFrames(file, 0), countFrames(reference, 0), "every video frame was recorded")

      const video = packetSpan(file, "video")
      const audio = packetSpan(file, "audio")
      assert.approximately(video.duration, SECONDS, 0.1)
      const spans = `audio ${audio.start}-${audio.end} s, video ${video.start}-${video.end} s`
      assert.isAtMost(Math.abs(audio.duration - video.duration), 0.2, spans)
      assert.isAtMost(Math.abs(audio.start - video.start), 0.04, spans)
      // 20 ms Opus packets with nothing missing: as many as the audio's span holds.
      assert.approximately(audio.packets, audio.duration / 0.02, 2)

      // A seek to the middle reads from there: the file has an index (Cues) and clusters to land on.
      const middle = SECONDS / 2
      const videoAfterSeek = packetsAfterSeek(file, "v", middle)
      assert.isNotEmpty(videoAfterSeek)
      assert.isTrue(videoAfterSeek[0]!.keyframe)
      assert.isAtLeast(videoAfterSeek[0]!.pts, middle - 1.1)
      assert.isAtMost(videoAfterSeek[0]!.pts, middle + 0.1)
      const audioAfterSeek = packetsAfterSeek(file, "a", middle)
      assert.isNotEmpty(audioAfterSeek)
      assert.isAtLeast(audioAfterSeek[0]!.pts, middle - 1.1)

      // Round trip: every published video packet, the same bytes at the same times; the transcoded audio holds as
      // much sound as the published AAC from the first key frame on, within an Opus frame and the encoder's delay.
      const media = readReference(reference)
      const [readVideo, readAudio] = await readBack(file)
      assert.deepStrictEqual([readVideo?.codec, readAudio?.codec], ["avc", "opus"])
      const matched = assertVideoMatches(readVideo!.packets, media.video, "matroska")
      assert.deepStrictEqual(matched.span, { from: 0, to: media.video.length }, "every published video packet")
      assertTranscodedAudio(readAudio!.packets, media.audio, media.video[0]!.seconds, matched.offset, 0.03)

      assert.notMatch(server.logs(), /audio transcoder|dropped a frame/)
    } finally {
      await server.stop()
    }
  })
})
