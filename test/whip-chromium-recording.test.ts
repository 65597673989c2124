/**
 * The manual's quick test with a real browser: headless Chromium (fake camera and microphone) opens the Stream
 * Recording page, clicks Start, publishes over WHIP for a few seconds, clicks Stop and gets the "play / download"
 * link. It runs in a loopback-only network namespace (test/support/netns.ts): every ICE candidate on both sides
 * must be 127.0.0.1. ffprobe and mkvmerge judge the files written through the real container writers.
 */
import { afterAll, assert, describe, it } from "@effect/vitest"
import { spawnSync } from "node:child_process"
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import type { DriverReport } from "./fixtures/webrtc/recording-page-driver.ts"
import { chromiumPath } from "./support/chromium.ts"
import { decodeErrors, packets, probe } from "./support/ffprobe.ts"
import { lastJsonLine, netnsAvailable, runInNetns } from "./support/netns.ts"

const driver = "test/fixtures/webrtc/recording-page-driver.ts"
const SECONDS = 4
const out = mkdtempSync(join(tmpdir(), "capstan-chromium-recording-"))
let passed = 0
afterAll(() => {
  // The screenshots stay for a human to look at; the recordings too when a test failed.
  if (passed < 2) return
  rmSync(join(out, "records"), { recursive: true, force: true })
  rmSync(join(out, "leave"), { recursive: true, force: true })
})

const runnable = existsSync(chromiumPath) && netnsAvailable()

const drive = async (args: ReadonlyArray<string>) => {
  const run = await runInNetns(driver, args, { timeoutMs: 100_000 })
  const report = lastJsonLine<DriverReport>(run.stdout)
  const how = `exit ${run.exitCode}${run.timedOut ? ", timed out" : ""}`
  assert.isDefined(report, `the driver reported nothing (${how}):\n${run.stderr}`)
  return { report: report!, run }
}

describe("Stream Recording page in Chromium over WHIP", () => {
  it("has Chromium and network namespaces to run in (scripts/test.sh installs them)", () => {
    assert.isTrue(runnable, `needs ${chromiumPath} and unshare -n (run as root)`)
  })

  it("records what the browser publishes, offers the file, and plays it", { timeout: 150_000 }, async () => {
    const { report, run } = await drive(["--out", out, "--seconds", String(SECONDS), "--name", "browser-cam"])
    console.log(`recording page screenshot: ${report.screenshot}`)
    assert.strictEqual(run.exitCode, 0, run.stderr)

    // Loopback only, on both sides.
    assert.isNotEmpty(report.offerCandidates)
    assert.isNotEmpty(report.answerCandidates)
    assert.deepStrictEqual(new Set([...report.offerCandidates, ...report.answerCandidates]), new Set(["127.0.0.1"]))

    // The page: UNPUBLISHED without error, a link to the recording, which its <video> plays.
    assert.deepStrictEqual([report.status, report.error], ["UNPUBLISHED", ""], report.console.join("\n"))
    const publication = report.publication!
    assert.isNotNull(publication)
    assert.deepStrictEqual(publication.closed, { failed: false, message: "the client ended the session (WHIP DELETE)" })
    assert.deepStrictEqual(publication.errors, [])
    const mp4 = `browser-cam-${publication.files.find((f) => f.endsWith(".mp4"))?.split("browser-cam-")[1]}`
    assert.strictEqual(report.href, `/client/records/${mp4}`)
    assert.strictEqual(report.download?.status, 200)
    assert.strictEqual(report.download?.contentType, "video/mp4")
    assert.strictEqual(report.download?.bytes, statSync(join(report.recordDir, mp4)).size)
    const playback = report.playback as { readonly duration: number; readonly width: number; readonly error: unknown }
    assert.deepStrictEqual([playback.width, playback.error], [640, null])
    assert.approximately(playback.duration, SECONDS, 1.5)
    assert.isTrue(readFileSync(report.screenshot).subarray(1, 4).equals(Buffer.from("PNG")))
    // The records page lists both files of the session (newest first: the MP4 was written last).
    assert.deepStrictEqual(report.recordsPage?.listed, [mp4, mp4.replace(/\.mp4$/, ".webm")])

    // What the ingest received: H.264 and Opus, aligned by Chromium's sender reports, nothing malformed or lost.
    assert.deepStrictEqual(
      publication.tracks.map((t) => [t.kind, t.codec, t.timescale]).sort(),
      [["audio", "OPUS", 48_000], ["video", "H264", 90_000]]
    )
    const [view] = report.whip
    assert.strictEqual(view?.alignment, "sender-reports")
    for (const track of view?.tracks ?? []) {
      assert.deepStrictEqual([track.kind, track.malformed, track.lost, track.brokenFrames], [track.kind, 0, 0, 0])
    }
    assert.strictEqual(publication.keyframes[0], 0)
    assert.approximately(publication.audioFrames * 0.02, SECONDS, 1.5)
    assert.isBelow(Math.abs(publication.firstSeconds["audio"]! - publication.firstSeconds["video"]!), 0.3)

    // The MP4 from the real writer, judged by ffprobe: every frame, decodable, starting with a key frame.
    const file = join(report.recordDir, mp4)
    const [stream] = probe(file).streams
    assert.deepStrictEqual([stream?.codec_name, stream?.width, stream?.height], ["h264", 640, 480])
    const probed = packets(file, 0)
    assert.strictEqual(probed.length, publication.videoFrames)
    assert.isTrue(probed[0]!.keyframe)
    assert.strictEqual(decodeErrors(file), "")

    // The WebM with both tracks, as mkvmerge and ffprobe read it.
    const webm = join(report.recordDir, mp4.replace(/\.mp4$/, ".webm"))
    const identified = JSON.parse(spawnSync("mkvmerge", ["-J", webm], { encoding: "utf8", timeout: 30_000 }).stdout)
    const codecIds = identified.tracks.map((t: { properties: { codec_id: string } }) => t.properties.codec_id)
    assert.deepStrictEqual(codecIds.sort(), ["A_OPUS", "V_MPEG4/ISO/AVC"])
    assert.strictEqual(decodeErrors(webm), "")
    passed++
  })

  it("records through the whole server: WHIP into MP4 with the Opus audio transcoded to AAC", { timeout: 150_000 }, async () => {
    const { report, run } = await drive(["--out", join(out, "capstan"), "--seconds", String(SECONDS), "--name", "whole", "--capstan"])
    assert.strictEqual(run.exitCode, 0, run.stderr)
    assert.deepStrictEqual([report.status, report.error], ["UNPUBLISHED", ""], report.console.join("\n"))
    assert.deepStrictEqual(new Set([...report.offerCandidates, ...report.answerCandidates]), new Set(["127.0.0.1"]))
    assert.match(report.href ?? "", /^\/client\/records\/whole-[0-9a-f-]+\.mp4$/)
    assert.strictEqual(report.download?.status, 200)
    const file = join(report.recordDir, decodeURIComponent(report.href!.replace("/client/records/", "")))
    const streams = probe(file).streams
    assert.deepStrictEqual(streams.map((s) => s.codec_name).sort(), ["aac", "h264"])
    const aac = streams.find((s) => s.codec_name === "aac")!
    assert.strictEqual(aac.sample_rate, "44100")
    assert.strictEqual(decodeErrors(file), "")
    const video = Number(streams.find((s) => s.codec_name === "h264")!.duration)
    const audio = Number(aac.duration)
    assert.approximately(video!, SECONDS, 1.5)
    assert.isAtMost(Math.abs(video! - audio!), 0.5)
  })

  it("ends the publication cleanly when the tab is closed without Stop", { timeout: 150_000 }, async () => {
    const args = ["--out", join(out, "leave"), "--seconds", "2", "--name", "browser-leave", "--leave"]
    const { report, run } = await drive(args)
    assert.strictEqual(run.exitCode, 0, run.stderr)
    assert.strictEqual(report.publication?.closed?.failed, false)
    assert.include(
      ["the client ended the session (WHIP DELETE)", "the peer closed the connection"],
      report.publication?.closed?.message
    )
    passed++
  })
})
