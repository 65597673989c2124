/**
 * `--pull-streams`: one MKV per stream, its media copied, judged by ffprobe, mkvmerge and the frames' hashes.
 * Filled, every pulled file starts at 0 and lasts as long as the recording, black and silent where its stream was
 * not there; not filled, a file holds only its stream's media at its own times.
 */
import { spawnSync } from "node:child_process"
import * as path from "node:path"
import { NodeServices } from "@effect/platform-node"
import { assert, beforeAll, describe, it } from "@effect/vitest"
import { Effect, References } from "effect"
import { pulledPathOf, pullStreams } from "../src/mixer/pull-streams.ts"
import { buildMultiRecording, fixtureDir, type FixtureOptions, stream } from "./fixtures/mixer/multi-recording.ts"
import { decodeErrors, packets, probe } from "./support/ffprobe.ts"

const tools = { ffmpeg: "/usr/bin/ffmpeg", ffprobe: "/usr/bin/ffprobe" }
const DURATION = 6

const streams = [
  ...stream("s-alice", "alice", 0, 6, { color: "red" }),
  ...stream("s-bob", "bob", 2, 4, { color: "blue" }),
  ...stream("s-carol", "carol", 0.5, 1.5, { color: "lime" }),
  ...stream("s-carol", "carol", 4, 1.5, { color: "lime" })
]

const pull = (file: string, fillGaps: boolean) =>
  Effect.runPromise(pullStreams({ file, tools, fillGaps }).pipe(
    Effect.provide(NodeServices.layer),
    Effect.provideService(References.MinimumLogLevel, "Warn")
  ))

/** The hash of every packet of one stream, copied as they are (`-c copy -f framemd5`). */
const packetHashes = (file: string, stream: number): Array<string> =>
  spawnSync("ffmpeg", ["-v", "error", "-i", file, "-map", `0:${stream}`, "-c", "copy", "-f", "framemd5", "-"], {
    encoding: "utf8",
    maxBuffer: 64 * 1024 * 1024
  }).stdout.split("\n")
    .filter((line) => line !== "" && !line.startsWith("#"))
    .map((line) => line.split(",").at(-1)!.trim())

/** The colour in the middle of the frame shown at `t`. */
const colourAt = (file: string, t: number): string => {
  const out = spawnSync("ffmpeg", [
    "-v", "error", "-ss", String(t), "-i", file, "-frames:v", "1", "-vf", "scale=1:1", "-f", "rawvideo",
    "-pix_fmt", "rgb24", "-"
  ]).stdout
  const [r, g, b] = [out[0]!, out[1]!, out[2]!]
  return r < 40 && g < 40 && b < 40 ? "black" : g > 180 && r < 80 && b < 80 ? "lime" : `rgb(${r},${g},${b})`
}

const mkvmergeCodecs = (file: string): Array<string> => {
  const json = JSON.parse(spawnSync("mkvmerge", ["-J", file], { encoding: "utf8" }).stdout)
  return json.tracks.map((track: { codec: string }) => track.codec)
}

describe.each([
  { container: "mkv", codecs: "H.264 + Opus", options: { container: "mkv", audioCodec: "opus" } },
  { container: "mp4", codecs: "H.264 + AAC", options: { container: "mp4" } },
  { container: "mkv", codecs: "VP8 + G.722", options: { container: "mkv", videoCodec: "vp8", audioCodec: "g722" } }
] as ReadonlyArray<{ container: string; codecs: string; options: FixtureOptions }>)(
  "pulling the streams of a $container multi-recording ($codecs)",
  ({ container, options }) => {
    let file = ""
    beforeAll(() => {
      file = buildMultiRecording(path.join(fixtureDir("pull"), `multi-recorder___room.${container}`), streams, options)
    }, 120_000)

    it("writes one MKV per stream, each as long as the recording from 0, gaps filled", async () => {
      const pulled = await pull(file, true)
      assert.deepStrictEqual(pulled.map((p) => p.mediaSessionId), ["s-alice", "s-bob", "s-carol"])
      for (const p of pulled) {
        assert.strictEqual(p.path, path.join(path.dirname(file), `multi-recorder___room_${p.mediaSessionId}.mkv`))
        const probed = probe(p.path)
        assert.strictEqual(probed.format.format_name, "matroska,webm")
        assert.deepStrictEqual(probed.streams.map((s) => s.codec_type), ["video", "audio"])
        for (const s of probed.streams) assert.approximately(Number(s.start_time), 0, 0.01, `${p.path} ${s.codec_type}`)
        assert.approximately(Number(probed.format.duration), DURATION, 0.12, p.path)
        assert.strictEqual(decodeErrors(p.path), "", p.path)
        assert.strictEqual(mkvmergeCodecs(p.path).length, 2)
      }
      const carol = pulledPathOf(file, "s-carol")
      const colours = [0.2, 1, 3, 4.5, 5.8].map((t) => colourAt(carol, t))
      assert.deepStrictEqual(colours, ["black", "lime", "black", "lime", "black"])
    }, 120_000)

    it("copies the stream's own packets without re-encoding them", () => {
      const source = probe(file).streams
      const pulled = probe(pulledPathOf(file, "s-bob")).streams
      assert.strictEqual(pulled[0]!.codec_name, source[2]!.codec_name)
      assert.strictEqual(pulled[1]!.codec_name, source[3]!.codec_name)
      // H.264 keyframes gain their SPS/PPS in band (pull-streams.ts); every other packet is byte for byte the same.
      const keyframes = new Set(packets(file, 2).flatMap((p, i) => (p.keyframe ? [i] : [])))
      const sourceVideo = packetHashes(file, 2).filter((_, i) => !keyframes.has(i))
      const pulledVideo = new Set(packetHashes(pulledPathOf(file, "s-bob"), 0))
      assert.isAbove(sourceVideo.length, 50)
      for (const hash of sourceVideo) assert.isTrue(pulledVideo.has(hash), "a video packet was re-encoded")
      const pulledAudio = new Set(packetHashes(pulledPathOf(file, "s-bob"), 1))
      for (const hash of packetHashes(file, 3)) assert.isTrue(pulledAudio.has(hash), "an audio packet was re-encoded")
    })

    it("with fill gaps off, keeps each stream's own media at its own times", async () => {
      await pull(file, false)
      const bob = probe(pulledPathOf(file, "s-bob"))
      assert.approximately(Number(bob.streams[0]!.start_time), 2, 0.04)
      assert.approximately(Number(bob.format.duration), DURATION, 0.12)
      const carol = pulledPathOf(file, "s-carol")
      const video = packets(carol, 0).map((p) => p.pts / 1000)
      assert.approximately(Math.min(...video), 0.5, 0.04)
      assert.approximately(Math.max(...video), 5.5, 0.08)
      assert.deepStrictEqual(video.filter((t) => t > 2.05 && t < 3.95), [], "no frames while carol was away")
      assert.strictEqual(decodeErrors(carol), "")
    }, 120_000)
  }
)
