/**
 * WebRTC into WebM and MKV through the whole server: headless Chromium publishes the Stream Recording page's camera and
 * microphone over WHIP with one video codec forced (?videoCodec=), Capstan records it by record_formats, and the
 * file is judged by tools that share no code with the writer: ffprobe/ffmpeg (codecs, frames, duration, decoding,
 * a seek to the middle), mkvmerge and mkvinfo (identification, track codecs, DocType, Cues), and mediabunny's
 * demuxer, whose packets must be ffprobe's packets one for one. Runs in a loopback-only network namespace
 * (test/support/netns.ts), like test/whip-chromium-recording.test.ts.
 *
 * (a) VP8 + Opus with the default record_formats (h264-mp4, vp8-webm): a .webm and nothing else.
 * (b) H.264 + Opus with record_formats=h264-webm: the manual's "WebM for WebRTC H264+opus streams".
 * (c) VP8 + Opus with record_formats=h264-mkv, vp8-mkv: a .mkv from our own Matroska writer.
 */
import { afterAll, assert, describe, it } from "@effect/vitest"
import { spawnSync } from "node:child_process"
import { existsSync, mkdtempSync, rmSync, statSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { EncodedPacketSink, FilePathSource, Input, MATROSKA, type MediaCodec, WEBM } from "mediabunny"
import type { DriverReport } from "./fixtures/webrtc/recording-page-driver.ts"
import { chromiumPath } from "./support/chromium.ts"
import { countFrames, decodeErrors, packets, packetsFrom, type ProbedPacket, probe } from "./support/ffprobe.ts"
import { lastJsonLine, netnsAvailable, runInNetns } from "./support/netns.ts"

const driver = "test/fixtures/webrtc/recording-page-driver.ts"
/** How long the page publishes between "connected" and Stop. */
const SECONDS = 4
/** How far the recording's length may be from SECONDS: ICE/DTLS setup, the first key frame, Stop's round trip. */
const DURATION_TOLERANCE = 1.5
/** Chromium's fake camera sends 20 frames/s; a loaded 2-core machine may lower that, not below this. */
const MIN_VIDEO_FPS = 10
/** Opus from Chromium comes in 20 ms packets. */
const OPUS_PACKET_SECONDS = 0.02
const out = mkdtempSync(join(tmpdir(), "capstan-whip-webm-"))
let passed = 0
afterAll(() => {
  // Kept for a human to look at when a case failed.
  if (passed === cases.length) rmSync(out, { recursive: true, force: true })
})

interface Case {
  readonly name: string
  readonly container: "webm" | "mkv"
  readonly videoCodec: "VP8" | "H264"
  readonly recordFormats: string | undefined
  readonly ffprobe: string
  readonly matroska: string
  readonly mediabunny: MediaCodec
}

const cases: ReadonlyArray<Case> = [
  {
    name: "vp8",
    container: "webm",
    videoCodec: "VP8",
    recordFormats: undefined,
    ffprobe: "vp8",
    matroska: "V_VP8",
    mediabunny: "vp8"
  },
  {
    name: "h264",
    container: "webm",
    videoCodec: "H264",
    recordFormats: "h264-webm",
    ffprobe: "h264",
    matroska: "V_MPEG4/ISO/AVC",
    mediabunny: "avc"
  },
  // MKV (our own writer) keeps Opus too; browsers do not play MKV, so the page's player is not judged.
  {
    name: "vp8-mkv",
    container: "mkv",
    videoCodec: "VP8",
    recordFormats: "h264-mkv, vp8-mkv",
    ffprobe: "vp8",
    matroska: "V_VP8",
    mediabunny: "vp8"
  }
]

const runnable = existsSync(chromiumPath) && netnsAvailable()

/** Publishes from the page for SECONDS through the whole server; checks the page and returns the file it offered. */
const record = async (c: Case): Promise<{ readonly report: DriverReport; readonly file: string }> => {
  const args = ["--out", join(out, c.name), "--seconds", String(SECONDS), "--name", `webm-${c.name}`, "--capstan"]
  args.push("--video-codec", c.videoCodec)
  if (c.recordFormats !== undefined) args.push("--record-formats", c.recordFormats)
  const run = await runInNetns(driver, args, { timeoutMs: 100_000 })
  const report = lastJsonLine<DriverReport>(run.stdout)
  const how = `exit ${run.exitCode}${run.timedOut ? ", timed out" : ""}`
  assert.isDefined(report, `the driver reported nothing (${how}):\n${run.stderr}`)
  assert.strictEqual(run.exitCode, 0, run.stderr)
  const r = report!
  assert.deepStrictEqual([r.status, r.error], ["UNPUBLISHED", ""], r.console.join("\n"))
  assert.deepStrictEqual(new Set([...r.offerCandidates, ...r.answerCandidates]), new Set(["127.0.0.1"]))
  // The page offered only the chosen codec (and its retransmissions), and the server took it.
  assert.deepStrictEqual(new Set(r.offerVideoCodecs), new Set([c.videoCodec, "rtx"]))
  assert.deepStrictEqual(r.answerVideoCodecs, [c.videoCodec])
  // One file and nothing else (no MP4, no temporary file left), offered, downloaded and (WebM) played by the page.
  assert.match(r.href ?? "", new RegExp(`^/client/records/webm-${c.name}-[0-9a-f-]+\\.${c.container}$`))
  const fileName = decodeURIComponent(r.href!.replace("/client/records/", ""))
  assert.deepStrictEqual(r.files, [fileName])
  const file = join(r.recordDir, fileName)
  const contentType = c.container === "webm" ? "video/webm" : "video/x-matroska"
  assert.deepStrictEqual(r.download, { status: 200, contentType, bytes: statSync(file).size })
  if (c.container === "mkv") return { report: r, file }
  const playback = r.playback as { readonly duration: number; readonly width: number; readonly error: unknown }
  assert.deepStrictEqual([playback.width, playback.error], [640, null])
  assert.approximately(playback.duration, SECONDS, DURATION_TOLERANCE)
  return { report: r, file }
}

const seconds = (pts: number) => pts / 1000

/** The stream's span by ffprobe: first pts to the end of the last packet (WebM blocks: 1 ms time base). */
const span = (list: ReadonlyArray<ProbedPacket>) => {
  const last = list[list.length - 1]!
  return seconds(last.pts + (Number.isFinite(last.duration) ? last.duration : 0) - list[0]!.pts)
}

/** ffprobe and ffmpeg: codecs, WebM, decodable frames, duration, A/V spans, and a seek to the middle. */
const checkWithFfprobe = (file: string, c: Case) => {
  const probed = probe(file)
  assert.strictEqual(probed.format.format_name, "matroska,webm")
  assert.deepStrictEqual(probed.streams.map((s) => s.codec_name).sort(), [c.ffprobe, "opus"].sort())
  const video = probed.streams.find((s) => s.codec_type === "video")!
  const audio = probed.streams.find((s) => s.codec_type === "audio")!
  assert.deepStrictEqual([video.width, video.height, audio.sample_rate, audio.time_base], [640, 480, "48000", "1/1000"])
  // The duration is known (Segment Info) and is the publish time.
  const duration = Number(probed.format.duration)
  assert.approximately(duration, SECONDS, DURATION_TOLERANCE)
  assert.strictEqual(decodeErrors(file), "")

  const videoPackets = packets(file, video.index)
  const audioPackets = packets(file, audio.index)
  assert.isAtLeast(videoPackets.length, SECONDS * MIN_VIDEO_FPS)
  assert.strictEqual(countFrames(file, video.index), videoPackets.length, "every video packet decodes to a frame")
  assert.isTrue(videoPackets[0]!.keyframe, "the file starts with a key frame")
  assert.strictEqual(videoPackets[0]!.pts, 0)
  assert.approximately(audioPackets.length * OPUS_PACKET_SECONDS, span(audioPackets), 0.1, "no audio gap")
  assert.isAtMost(Math.abs(span(videoPackets) - span(audioPackets)), 0.5, "audio and video cover the same time")
  // The Segment's Duration is where the last packet ends (block timestamps are whole milliseconds). Video blocks
  // carry no duration, so the writer gives the last video frame about one frame interval: up to that much more.
  const end = Math.max(span(videoPackets), seconds(audioPackets[0]!.pts) + span(audioPackets))
  const intervals = videoPackets.slice(1).map((p, i) => seconds(p.pts - videoPackets[i]!.pts)).sort((a, b) => a - b)
  const frameInterval = intervals[Math.floor(intervals.length / 2)]!
  assert.isAtLeast(duration, end - 0.002, "the Duration reaches the last packet")
  assert.isAtMost(duration, end + 2 * frameInterval + 0.002, "and at most one video frame beyond it")

  // A seek to the middle lands, through the Cues, on a key frame next to it (ffprobe's -read_intervals takes the
  // index entry nearest the target: the last key frame at or before it, or the first after it when that is nearer;
  // Chromium sends key frames only when asked) and reads video from there.
  const middle = duration / 2
  const keys = videoPackets.filter((p) => p.keyframe)
  const around = [keys.filter((p) => seconds(p.pts) <= middle).pop(), keys.find((p) => seconds(p.pts) > middle)]
    .flatMap((p) => (p === undefined ? [] : [p.pts]))
  const read = packetsFrom(file, video.index, middle, 1)
  assert.isNotEmpty(read, `no video read at ${middle} s`)
  assert.isTrue(read[0]!.keyframe, "the seek lands on a key frame")
  assert.include(around, read[0]!.pts, `a key frame next to ${middle} s (${JSON.stringify(around)})`)
  assert.isTrue(read.every((p) => p.pts >= read[0]!.pts && seconds(p.pts - read[0]!.pts) <= 1))
  return { duration, video: video.index, audio: audio.index }
}

/** mkvmerge -J and mkvinfo: a clean Matroska file with its DocType, the codec IDs, and Cues for the video track. */
const checkWithMkvtoolnix = (file: string, c: Case) => {
  const identify = spawnSync("mkvmerge", ["-J", file], { encoding: "utf8", timeout: 30_000 })
  const identified = JSON.parse(identify.stdout)
  assert.deepStrictEqual(
    [identified.container.recognized, identified.container.supported, identified.container.type],
    [true, true, "Matroska"]
  )
  assert.deepStrictEqual([identified.errors, identified.warnings], [[], []])
  type MkvTrack = { type: string; properties: { codec_id: string; number: number; pixel_dimensions?: string } }
  const tracks: Array<MkvTrack> = identified.tracks
  assert.deepStrictEqual(tracks.map((t) => t.properties.codec_id).sort(), ["A_OPUS", c.matroska].sort())
  const video = tracks.find((t) => t.type === "video")!
  assert.strictEqual(video.properties.pixel_dimensions, "640x480")

  const info = spawnSync("mkvinfo", ["-a", file], { encoding: "utf8", timeout: 30_000, maxBuffer: 64 * 1024 * 1024 })
  assert.strictEqual(info.status, 0, info.stderr)
  assert.include(info.stdout, `|+ Document type: ${c.container === "webm" ? "webm" : "matroska"}`)
  assert.include(info.stdout, "|+ Cues")
  const cued = [...info.stdout.matchAll(/\+ Cue track: (\d+)/g)].map((m) => Number(m[1]))
  assert.include(cued, video.properties.number, "a cue point for the video track")
}

/** mediabunny's demuxer reads the same packets as ffprobe: count, timestamps, key frames and span per track. */
const roundTrip = async (file: string, c: Case, probed: ReturnType<typeof checkWithFfprobe>) => {
  const input = new Input({ source: new FilePathSource(file), formats: [WEBM, MATROSKA] })
  try {
    assert.strictEqual(await input.getFormat(), c.container === "webm" ? WEBM : MATROSKA)
    const tracks = await input.getTracks()
    const codecs: Array<MediaCodec | null> = [c.mediabunny, "opus"]
    assert.deepStrictEqual(tracks.map((t) => t.codec).sort(), codecs.sort())
    for (const track of tracks) {
      const stream = track.type === "video" ? probed.video : probed.audio
      const expected = packets(file, stream)
      const read: Array<{ readonly pts: number; readonly keyframe: boolean }> = []
      for await (const packet of new EncodedPacketSink(track).packets()) {
        read.push({ pts: Math.round(packet.timestamp * 1000), keyframe: packet.type === "key" })
      }
      assert.strictEqual(read.length, expected.length, `${track.type} packets`)
      assert.deepStrictEqual(read.map((p) => p.pts), expected.map((p) => p.pts), `${track.type} timestamps`)
      if (track.type === "video") {
        assert.deepStrictEqual(read.map((p) => p.keyframe), expected.map((p) => p.keyframe), "video key frames")
      }
      const mediabunnySpan = (await track.computeDuration()) - (await track.getFirstTimestamp())
      // mediabunny gives the last packet no duration (nothing follows it); ffprobe may know it: one frame at most.
      assert.approximately(mediabunnySpan, span(expected), 0.1, `${track.type} span`)
    }
    assert.approximately(await input.computeDuration(), probed.duration, 0.1)
  } finally {
    input.dispose()
  }
}

describe("WebRTC from Chromium into WebM and MKV through the whole server", () => {
  it("has Chromium and network namespaces to run in (scripts/test.sh installs them)", () => {
    assert.isTrue(runnable, `needs ${chromiumPath} and unshare -n (run as root)`)
  })

  for (const c of cases) {
    const formats = c.recordFormats ?? "the default record_formats"
    it(`records ${c.videoCodec} + Opus to ${c.container === "webm" ? "WebM" : "MKV"} with ${formats}`, { timeout: 180_000 }, async () => {
      const { file } = await record(c)
      const probed = checkWithFfprobe(file, c)
      checkWithMkvtoolnix(file, c)
      await roundTrip(file, c, probed)
      passed++
    })
  }
})
