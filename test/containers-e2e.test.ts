/**
 * record_formats end to end: RTMP publishes from real ffmpeg recorded to MKV and MPEG-TS, judged by ffprobe and
 * mkvmerge (codecs, frame counts, duration, a seek to the middle, zero decode errors), with rotation and the hook,
 * and read back with mediabunny to compare packet for packet with what ffmpeg published (the reference FLV).
 */
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { startCapstan, tempDir } from "./support/capstan-process.ts"
import { ffmpegPublish } from "./support/ffmpeg-publish.ts"
import { countFrames, decodeErrors, packets, probe } from "./support/ffprobe.ts"
import { assertCoversPublish, assertRoundTrip, readReference } from "./support/packet-compare.ts"
import { until } from "./support/wait.ts"

/** ffprobe reads packets from the middle of the file on: the file is seekable. */
const seeksToMiddle = (file: string, seconds: number) => {
  const result = spawnSync("ffprobe", ["-v", "error", "-read_intervals", `${seconds / 2}%+1`, "-select_streams", "v:0",
    "-show_entries", "packet=pts_time", "-of", "csv=p=0", file], { encoding: "utf8" })
  const times = result.stdout.trim().split("\n").map(Number)
  return times.length > 0 && times[0]! >= seconds / 2 - 1.5
}

describe("record_formats", () => {
  it("records H.264 + AAC to MKV (h264-mkv) with Cues, duration and every video frame", async () => {
    const server = await startCapstan({ stream_record_policy_template: "{streamName}", record_formats: "h264-mkv, vp8-mkv" })
    try {
      const reference = path.join(server.dir, "mkv.flv")
      const published = await ffmpegPublish({
        url: `rtmp://127.0.0.1:${server.rtmpPort}/live/mkv`,
        seconds: 6,
        bframes: 2,
        referenceFlv: reference
      })
      assert.strictEqual(published.code, 0, published.stderr)
      const file = await until("mkv.mkv", () => {
        const target = path.join(server.recordDir, "mkv.mkv")
        return fs.existsSync(target) ? target : undefined
      })
      const probed = probe(file)
      assert.deepStrictEqual(probed.streams.map((s) => s.codec_name), ["h264", "aac"])
      assert.strictEqual(countFrames(file, 0), countFrames(reference, 0))
      // The Matroska writer starts every track at the first keyframe: audio stamped before it is not kept.
      assert.isAtMost(countFrames(reference, 1) - countFrames(file, 1), 2)
      assert.isAtMost(Math.abs(Number(probed.format.duration) - 6), 0.1)
      assert.strictEqual(decodeErrors(file), "")
      assert.isTrue(seeksToMiddle(file, 6))
      const identified = JSON.parse(spawnSync("mkvmerge", ["-J", file], { encoding: "utf8" }).stdout)
      assert.isTrue(identified.container.recognized)
      assert.deepStrictEqual(identified.tracks.map((t: any) => t.codec), ["AVC/H.264/MPEG-4p10", "AAC"])
      // -a reads the elements after the clusters too, where the Cues are.
      const info = spawnSync("mkvinfo", ["-a", file], { encoding: "utf8", maxBuffer: 64 * 1024 * 1024 }).stdout
      assert.match(info, /\+ Cues\n/)
      // Round trip: every published packet from the first key frame on, the same bytes at the same times.
      const media = readReference(reference)
      assertCoversPublish(media, [await assertRoundTrip(file, media, "matroska")])
    } finally {
      await server.stop()
    }
  })

  it("records H.264 + AAC to MPEG-TS when record_h264_to_ts wins, with rotation and the hook per fragment", async () => {
    const dir = tempDir("ts")
    const hookOut = path.join(dir, "hook.out")
    const hook = path.join(dir, "hook.sh")
    fs.writeFileSync(hook, `#!/bin/sh\necho "$1 $2" >> ${JSON.stringify(hookOut)}\n`, { mode: 0o755 })
    const server = await startCapstan({
      stream_record_policy_template: "{streamName}",
      record_formats: "h264-mkv, vp8-webm",
      record_h264_to_ts: "true",
      record_rotation: "2",
      on_record_hook_script: hook
    }, { dir })
    try {
      const reference = path.join(server.dir, "ts.flv")
      const published = await ffmpegPublish({
        url: `rtmp://127.0.0.1:${server.rtmpPort}/live/tsrec`,
        seconds: 5,
        gop: 15,
        referenceFlv: reference
      })
      assert.strictEqual(published.code, 0, published.stderr)
      await server.waitForLog(/recorded .*tsrec_3\.ts/)
      const parts = [1, 2, 3].map((index) => path.join(server.recordDir, `tsrec_${index}.ts`))
      let frames = 0
      for (const part of parts) {
        assert.deepStrictEqual(probe(part).streams.map((s) => s.codec_name), ["h264", "aac"])
        assert.isTrue(packets(part, 0)[0]!.keyframe, `${part} starts with a keyframe`)
        assert.strictEqual(decodeErrors(part), "")
        frames += countFrames(part, 0)
      }
      assert.strictEqual(frames, countFrames(reference, 0), "no video frame lost or duplicated across fragments")
      // Round trip: each fragment holds the published packets that follow the previous one's, the same bytes at the
      // same times (each fragment's clock starts afresh), and together they hold the whole publish.
      const media = readReference(reference)
      const matched = []
      for (const part of parts) matched.push(await assertRoundTrip(part, media, "mpegts"))
      assertCoversPublish(media, matched)
      await until("three hook runs", () => {
        const lines = fs.existsSync(hookOut) ? fs.readFileSync(hookOut, "utf8").trim().split("\n") : []
        return lines.length === 3 ? lines : undefined
      })
      const lines = fs.readFileSync(hookOut, "utf8").trim().split("\n").sort()
      assert.deepStrictEqual(lines, parts.map((part) => `tsrec ${part}`))
    } finally {
      await server.stop()
    }
  })
})
