/**
 * The multi-recorder with publishers of both kinds, into MKV (multi_record_format=mkv): headless Chromium publishes
 * A (VP8 + Opus) and C (H.264 + Opus) from the Stream Recording page over WHIP, ffmpeg publishes B (H.264 + AAC)
 * over RTMP, and the REST API adds A, then B, then C, removes A, adds A again and terminates. The driver
 * (test/fixtures/webrtc/multi-record-driver.ts) runs all of it, server included, in a loopback-only network
 * namespace (test/support/netns.ts) and reports the file and when each call was made; the file is judged from here
 * by ffprobe/ffmpeg, mkvmerge and mkvinfo, then read and mixed by the offline mixer.
 *
 * Chromium lowers its resolution when the machine is busy, and a new resolution is a new codec configuration: the
 * multi-recorder then starts a new video track for the stream. So a stay (one add to its remove or the terminate)
 * holds one audio track and one or more video tracks, one after the other, each at another resolution.
 */
import { afterAll, assert, describe, it } from "@effect/vitest"
import { spawnSync } from "node:child_process"
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import * as path from "node:path"
import { lumaMaxima, mkvinfoClusters, mkvmergeIdentify } from "./fixtures/containers/media-judges.ts"
import type { MultiRecordReport, PublisherKey } from "./fixtures/webrtc/multi-record-driver.ts"
import { heldSpans, staysOf } from "./fixtures/webrtc/multi-record-stays.ts"
import { chromiumPath } from "./support/chromium.ts"
import { countFrames, decodeErrors, type ProbedPacket, packets, probe } from "./support/ffprobe.ts"
import { lastJsonLine, netnsAvailable, node22, runInNetns } from "./support/netns.ts"

const driver = "test/fixtures/webrtc/multi-record-driver.ts"
/** A WebRTC stream joins at the key frame Capstan asks for when it is added (about 0.2 s here). */
const WEBRTC_JOIN_S = 1
/** ffmpeg's GOP is 1 s: B joins at its next key frame. */
const RTMP_JOIN_S = 1.2
/** A stream's frames are placed by its own clock from the key frame it joined on, the REST calls by the wall clock. */
const CLOCK_SLACK_S = 0.35
/**
 * Audio starts with the first audio frame after the key frame the stream joined on, of those that reach the server
 * after it: a large key frame from a busy encoder arrives later than the audio sent with it.
 */
const AUDIO_AFTER_VIDEO_S = 0.5
/**
 * Chromium's fake camera sends 20 frames/s, far fewer when the machine is busy, and its encoder skips frames for up
 * to a second after the key frame asked for on an add (a large frame for its low starting bitrate); never longer.
 */
const VIDEO_STEP_MAX_S = 1.5
/** The longest step between two audio packets that is not a gap: two packets of 23 ms and a bit of jitter. */
const AUDIO_STEP_MAX_MS = 50
const CODECS: Readonly<Record<PublisherKey, readonly [string, string]>> = {
  A: ["vp8", "opus"],
  B: ["h264", "aac"],
  C: ["h264", "opus"]
}
/** How long the mixer holds a participant's last frame until its next one (its pre-roll). */
const HELD_S = 0.5
const MATROSKA_IDS: Readonly<Record<string, string>> = {
  vp8: "V_VP8",
  h264: "V_MPEG4/ISO/AVC",
  opus: "A_OPUS",
  aac: "A_AAC"
}

const out = mkdtempSync(path.join(tmpdir(), "capstan-multi-webrtc-"))
let passed = 0
afterAll(() => {
  // Kept for a human to look at when a test failed.
  if (passed === 3) rmSync(out, { recursive: true, force: true })
})

const runnable = existsSync(chromiumPath) && netnsAvailable()

const seconds = (ms: number) => ms / 1000
const end = (list: ReadonlyArray<ProbedPacket>) =>
  Math.max(...list.map((p) => p.pts + (Number.isFinite(p.duration) ? p.duration : 0)))

interface Recorded {
  readonly report: MultiRecordReport
  readonly file: string
  readonly titles: ReadonlyArray<string>
  readonly firstPts: ReadonlyArray<number>
  /** The times of each stay's video frames, in seconds, sorted. */
  readonly videoTimes: ReadonlyArray<ReadonlyArray<number>>
}
let recorded: Recorded | undefined

/** The `capstan offline-mixer` command, as the hook or an operator runs it, with the shipped settings. */
const offlineMixer = (args: ReadonlyArray<string>) =>
  spawnSync(node22(), ["src/main.ts", "offline-mixer", ...args], {
    encoding: "utf8",
    timeout: 180_000,
    env: { ...process.env, CAPSTAN_OFFLINE_MIXER_CONFIG: "" }
  })

describe("multi-recorder with WebRTC and RTMP publishers into MKV", () => {
  it("has Chromium and network namespaces to run in (scripts/test.sh installs them)", () => {
    assert.isTrue(runnable, `needs ${chromiumPath} and unshare -n (run as root)`)
  })

  it("records streams joining and leaving at different times, each stay in its own tracks", {
    timeout: 240_000
  }, async () => {
    const run = await runInNetns(driver, ["--out", out, "--format", "mkv"], { timeoutMs: 180_000 })
    // Kept with the recording for a human to look at when a check fails.
    writeFileSync(path.join(out, "driver.log"), `${run.stderr}\n${run.stdout}`)
    const report = lastJsonLine<MultiRecordReport>(run.stdout)
    const how = `exit ${run.exitCode}${run.timedOut ? ", timed out" : ""}`
    assert.isDefined(report, `the driver reported nothing (${how}):\n${run.stderr}`)
    assert.strictEqual(run.exitCode, 0, run.stderr)
    const r = report!
    assert.deepStrictEqual(r.steps.map((s) => [s.action, s.publisher, s.status]), [
      ["startup", null, 200], ["add", "A", 200], ["add", "B", 200], ["add", "C", 200], ["remove", "A", 200],
      ["add", "A", 200], ["terminate", null, 200]
    ])
    const ids = Object.fromEntries(r.publishers.map((p) => [p.key, p.mediaSessionId])) as Record<PublisherKey, string>
    assert.deepStrictEqual(r.listedBeforeTerminate[0]?.mediaSessionsId, [ids.B, ids.C, ids.A])
    // WebRTC on loopback only, each page with the one video codec it was told to offer.
    for (const p of r.publishers.filter((p) => p.protocol === "webrtc")) {
      assert.deepStrictEqual(new Set([...p.offerCandidates, ...p.answerCandidates]), new Set(["127.0.0.1"]), p.key)
      assert.deepStrictEqual(p.answerVideoCodecs, [p.videoCodec], p.key)
    }
    // The hook got the finished file, alone in multi_record_dir.
    assert.strictEqual(r.hookUri, r.uri)
    assert.deepStrictEqual(r.multiRecordFiles, [path.basename(r.file)])
    assert.match(path.basename(r.file), /^multi-recorder___mixed-room-\d+-\d+\.mkv$/)
    const file = r.file

    // Every track is named after its stream; each belongs to the stay of its stream it started in.
    const probed = probe(file)
    assert.strictEqual(probed.format.format_name, "matroska,webm")
    assert.isTrue(probed.streams.every((s) => s.time_base === "1/1000"), "Matroska times in ms")
    const names = Object.fromEntries(r.publishers.map((p) => [p.mediaSessionId, p.name]))
    const titles = probed.streams.map((s: any) => String(s.tags?.title ?? ""))
    const all = probed.streams.map((s) => packets(file, s.index))
    const firstPts = all.map((list) => seconds(Math.min(...list.map((p) => p.pts))))
    const stays = staysOf(r)
    probed.streams.forEach((stream, i) => {
      const [, id, name] = /^capstan:([^:]+):(.*)$/.exec(titles[i]!) ?? []
      assert.strictEqual(name, names[id!], `track ${i} is named ${titles[i]}`)
      const stay = stays.filter((s) => s.mediaSessionId === id && s.added.from - 0.05 <= firstPts[i]!).at(-1)
      assert.isDefined(stay, `track ${i} (${titles[i]}) starts at ${firstPts[i]} s, before its stream was added`)
      stay!.tracks.push(stream.index)
    })

    const resolutionChanges: Array<string> = []
    const videoTimes: Array<ReadonlyArray<number>> = []
    for (const stay of stays) {
      const label = `${stay.key} added at ${stay.added.from.toFixed(2)}-${stay.added.to.toFixed(2)} s`
      const video = stay.tracks.filter((i) => probed.streams[i]!.codec_type === "video")
      const audio = stay.tracks.filter((i) => probed.streams[i]!.codec_type === "audio")
      // One audio track; video tracks in the stream's codec, the first one first in the file.
      assert.strictEqual(audio.length, 1, `${label}: audio tracks ${audio}`)
      assert.isAtLeast(video.length, 1, label)
      assert.deepStrictEqual(
        [...new Set(video.map((i) => probed.streams[i]!.codec_name)), probed.streams[audio[0]!]!.codec_name],
        [...CODECS[stay.key]],
        label
      )
      assert.strictEqual(Math.min(...stay.tracks), video[0], `${label}: the stream joins on a video key frame`)
      assert.isAbove(audio[0]!, video[0]!, label)
      // It joins at its next key frame after the add: WebRTC at once (Capstan asks for one), RTMP within a GOP.
      const join = firstPts[video[0]!]!
      const within = stay.key === "B" ? RTMP_JOIN_S : WEBRTC_JOIN_S
      assert.isAtLeast(join, stay.added.from - 0.02, label)
      assert.isAtMost(join, stay.added.to + within, label)
      assert.isAtLeast(firstPts[audio[0]!]!, join, label)
      assert.isAtMost(firstPts[audio[0]!]!, join + AUDIO_AFTER_VIDEO_S, label)
      // Later video tracks: a new resolution, each after the one before, each from a key frame, every frame decodable.
      video.forEach((track, n) => {
        assert.isTrue(all[track]![0]!.keyframe, `${label}: track ${track} starts with a key frame`)
        assert.strictEqual(countFrames(file, track), all[track]!.length, `${label}: track ${track} decodes whole`)
        if (n === 0) return
        const [before, now] = [probed.streams[video[n - 1]!]!, probed.streams[track]!]
        assert.notDeepEqual([now.width, now.height], [before.width, before.height], `${label}: track ${track}`)
        assert.isAtLeast(firstPts[track]!, seconds(Math.max(...all[video[n - 1]!]!.map((p) => p.pts))), label)
        resolutionChanges.push(`${stay.key}: ${before.width}x${before.height} -> ${now.width}x${now.height}`)
      })
      // It ends when it was removed, or when the recording was terminated.
      const last = seconds(Math.max(...stay.tracks.map((i) => end(all[i]!))))
      assert.isAtLeast(last, stay.left.from - CLOCK_SLACK_S, label)
      assert.isAtMost(last, stay.left.to + CLOCK_SLACK_S, label)
      // Audio without gaps: Opus packets of 20 ms, AAC of 23 ms, one after the other.
      const sound = all[audio[0]!]!
      const steps = sound.slice(1).map((p, n) => p.pts - sound[n]!.pts)
      assert.isAtMost(Math.max(...steps), AUDIO_STEP_MAX_MS, `${label}: audio gap`)
      // Video flows through the stay: ffmpeg's 30 frames/s, Chromium's with no long stop, even across a new track.
      const times = video.flatMap((i) => all[i]!.map((p) => seconds(p.pts))).sort((a, b) => a - b)
      videoTimes.push(times)
      if (stay.key === "B") assert.isAtLeast(times.length / (last - join), 20, `${label}: video frames/s`)
      const stops = times.slice(1).map((t, n) => t - times[n]!)
      assert.isAtMost(Math.max(...stops), VIDEO_STEP_MAX_S, `${label}: video stopped`)
    }
    console.log(`${probed.streams.length} tracks; resolution changes: ${resolutionChanges.join(", ") || "none"}`)
    // The stays in the order they were added; A's second one in new tracks, after every track of its first.
    assert.deepStrictEqual(stays.map((s) => s.key), ["A", "B", "C", "A"])
    const firstTracks = stays.map((s) => Math.min(...s.tracks))
    assert.deepStrictEqual(firstTracks, [...firstTracks].sort((a, b) => a - b))
    assert.isAbove(Math.min(...stays[3]!.tracks), Math.max(...stays[0]!.tracks))

    assert.strictEqual(decodeErrors(file), "")
    const mkv = mkvmergeIdentify(file)
    assert.isTrue(mkv.recognized && mkv.supported, mkv.errors.join("; "))
    assert.deepStrictEqual(mkv.errors, [])
    assert.deepStrictEqual(mkv.tracks.map((t) => t.codecId), probed.streams.map((s) => MATROSKA_IDS[s.codec_name]))
    assert.isTrue(mkvinfoClusters(file).hasCues, "Cues")
    const duration = Number(probed.format.duration)
    assert.approximately(mkv.durationSeconds ?? 0, duration, 0.1)
    const terminated = stays[3]!.left
    assert.isAtLeast(duration, terminated.from - CLOCK_SLACK_S)
    assert.isAtMost(duration, terminated.to + CLOCK_SLACK_S)
    recorded = { report: r, file, titles, firstPts, videoTimes }
    passed++
  })

  it("shows each track's pause and media with --show-tracks-info", () => {
    assert.isDefined(recorded, "the recording above failed")
    const { file, titles, firstPts } = recorded!
    const result = offlineMixer(["--show-tracks-info", file])
    assert.strictEqual(result.status, 0, result.stderr)
    const tracks = JSON.parse(result.stdout) as Array<any>
    const streams = probe(file).streams
    assert.strictEqual(tracks.length, streams.length)
    tracks.forEach((track, i) => {
      const [, id, name] = /^capstan:([^:]+):(.*)$/.exec(titles[i]!)!
      const stream = streams[i]!
      assert.deepInclude(track, {
        trackId: String(i + 1),
        trackType: stream.codec_type.toUpperCase(),
        trackCodec: stream.codec_name,
        mediaSessionId: id,
        streamName: name
      })
      if (stream.codec_type === "video") {
        assert.deepInclude(track, { width: String(stream.width), height: String(stream.height) })
      }
      // A pause from the start of the file to the track's first packet, then its media.
      const start = Math.round(firstPts[i]! * 1000)
      const list = packets(file, i)
      const edits = track.trackEdits.map((e: any) => [e.type, Number(e.startInMs)])
      assert.deepStrictEqual(edits, [["pause", 0], ["media", start]], `track ${i + 1}`)
      assert.strictEqual(Number(track.trackEdits[0].endInMs), start)
      // The track's end is its DURATION tag: where its last frame ends, the last frame lasting about one usual
      // frame interval (video blocks carry no duration; ffprobe's packet durations for them are its own guess).
      const times = list.map((p) => p.pts).sort((a, b) => a - b)
      const gaps = times.slice(1).map((t, n) => t - times[n]!).sort((a, b) => a - b)
      const usual = gaps[Math.floor(gaps.length / 2)] ?? 0
      const lastStart = times.at(-1)!
      assert.isAbove(Number(track.durationInMS), lastStart, `track ${i + 1} ends after its last packet starts`)
      assert.isAtMost(Number(track.durationInMS), lastStart + Math.max(2 * usual, 25) + 1, `track ${i + 1} end`)
      assert.strictEqual(track.trackEdits[1].endInMs, track.durationInMS)
    })
    passed++
  })

  it("mixes the recording into one video and one audio track as long as it", { timeout: 240_000 }, () => {
    assert.isDefined(recorded, "the recording above failed")
    const { file } = recorded!
    const result = offlineMixer([file])
    assert.strictEqual(result.status, 0, result.stderr)
    const mixed = file.replace(/\.mkv$/, "_mixed.mp4")
    assert.strictEqual(result.stdout.trim(), mixed)
    const probed = probe(mixed)
    const kinds = probed.streams.map((s) => [s.codec_type, s.codec_name])
    assert.deepStrictEqual(kinds, [["video", "h264"], ["audio", "aac"]])
    assert.strictEqual(decodeErrors(mixed), "")
    // As long as the recording: the layout's segments add up to it, none longer than planned.
    const duration = Number(probed.format.duration)
    assert.approximately(duration, Number(probe(file).format.duration), 0.2)
    const fps = 30
    assert.approximately(Number(probed.streams[0]!.nb_frames), Math.round(duration * fps), 1)
    // No black picture while the recording has someone's video, where the layout changes and where a stream goes on
    // in a new track: from a stay's first frame to its last, across steps of up to HELD_S between two frames.
    const onScreen = recorded!.videoTimes.flatMap((times) => heldSpans(times, HELD_S))
    const black = lumaMaxima(mixed).flatMap((y, n) => {
      const on = onScreen.some((span) => n / fps >= span.from + 1 / fps && (n + 1) / fps <= span.to - 1 / fps)
      return on && y <= 32 ? [n] : []
    })
    assert.deepStrictEqual(black, [], `black frames while someone is on (${JSON.stringify(onScreen)})`)
    const volumeArgs = ["-nostdin", "-i", mixed, "-map", "0:a", "-af", "volumedetect", "-f", "null", "-"]
    const volume = spawnSync("ffmpeg", volumeArgs, { encoding: "utf8", timeout: 60_000 })
    const maxVolume = Number(/max_volume: (-?[\d.]+) dB/.exec(volume.stderr)?.[1])
    assert.isAbove(maxVolume, -30, "the voices are mixed in")
    passed++
  })
})
