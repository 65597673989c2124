/**
 * Issue #5: MPEG-TS recordings play in VLC 3.0.8 or later (the manual: VLC before 3.0.8 can not play TS
 * recordings). The whole server records a real ffmpeg RTMP publish (H.264 + AAC) with record_formats=h264-ts;
 * VLC demuxes and decodes the recording and its transcode output writes what it decoded to a new file, which
 * ffmpeg/ffprobe judge against the recording: both streams there, every video frame but the encoder's last one
 * or two, the same pictures (PSNR per frame), the same loudness and duration, and no demux or decode complaint
 * in VLC's log. A damaged copy of the same recording shows the judge can fail.
 */
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import { startCapstan, type CapstanProcess } from "./support/capstan-process.ts"
import { ffmpegPublish } from "./support/ffmpeg-publish.ts"
import { countFrames, probe } from "./support/ffprobe.ts"
import { playbackProblems, vlcTranscode, vlcVersion, vlcWorkDir, type VlcWorkDir } from "./support/vlc.ts"

const SECONDS = 6
/** A decoded picture is VLC's picture of the recording's frame when it is this close (libavcodec's decode). */
const SAME_PICTURE_DB = 35

const ffmpegStderr = (args: ReadonlyArray<string>): string => {
  const ran = spawnSync("ffmpeg", ["-hide_banner", "-nostdin", ...args], { encoding: "utf8", timeout: 60_000 })
  if (ran.status !== 0) throw new Error(`ffmpeg ${args.join(" ")} failed: ${ran.stderr}`)
  return ran.stderr
}

/** Frames of `decoded` whose picture matches the frame of `recording` at the same index, by PSNR. */
const samePictures = (decoded: string, recording: string): number => {
  // Both sequences are renumbered frame by frame (a pts of N at 30/s) so psnr pairs frames by index.
  const graph = "[0:v]setpts=N/(30*TB)[a];[1:v]setpts=N/(30*TB)[b];[a][b]psnr=shortest=1:stats_file=-"
  const stats = spawnSync("ffmpeg", ["-hide_banner", "-nostdin", "-v", "error", "-i", decoded, "-i", recording,
    "-filter_complex", graph, "-f", "null", "-"], { encoding: "utf8", timeout: 60_000, maxBuffer: 64 * 1024 * 1024 })
  if (stats.status !== 0) throw new Error(`ffmpeg psnr failed: ${stats.stderr}`)
  return [...stats.stdout.matchAll(/psnr_avg:(\S+)/g)]
    .filter((m) => m[1] === "inf" || Number(m[1]) >= SAME_PICTURE_DB).length
}

/** ffmpeg's volumedetect mean volume (dB) of the first audio stream. */
const meanVolume = (file: string): number => {
  const stderr = ffmpegStderr(["-i", file, "-map", "0:a:0", "-af", "volumedetect", "-f", "null", "-"])
  const match = /mean_volume: (-?[\d.]+) dB/.exec(stderr)
  if (match === null) throw new Error(`no mean_volume for ${file}:\n${stderr}`)
  return Number(match[1])
}

const streamOf = (file: string, type: "video" | "audio") => {
  const stream = probe(file).streams.find((s) => s.codec_type === type)
  assert.isDefined(stream, `${file} has a ${type} stream`)
  return stream!
}

describe("MPEG-TS recordings in VLC", () => {
  let server: CapstanProcess
  let recording: string
  let work: VlcWorkDir

  beforeAll(async () => {
    server = await startCapstan({ stream_record_policy_template: "{streamName}", record_formats: "h264-ts" })
    const published = await ffmpegPublish({ url: `rtmp://127.0.0.1:${server.rtmpPort}/live/vlc`, seconds: SECONDS })
    assert.strictEqual(published.code, 0, published.stderr)
    await server.waitForLog(/recorded \S*vlc\.ts /)
    await server.stop()
    work = vlcWorkDir()
    recording = work.add(path.join(server.recordDir, "vlc.ts"))
  })

  afterAll(async () => {
    await server?.stop()
    if (work !== undefined) fs.rmSync(work.dir, { recursive: true, force: true })
  })

  it("VLC 3.0.8 or later demuxes and decodes every stream of the recording", () => {
    const [major, minor, patch] = vlcVersion()
    assert.isTrue(major > 3 || (major === 3 && (minor > 0 || patch >= 8)), `VLC ${major}.${minor}.${patch} >= 3.0.8`)
    assert.deepStrictEqual(probe(recording).streams.map((s) => s.codec_name), ["h264", "aac"])

    const played = vlcTranscode(work, recording)
    assert.strictEqual(played.status, 0, played.log)
    assert.deepStrictEqual(playbackProblems(played.log), [], "VLC's demuxer and decoders complained")

    const recordedVideo = streamOf(recording, "video")
    const recordedAudio = streamOf(recording, "audio")
    const video = streamOf(played.output, "video")
    const audio = streamOf(played.output, "audio")
    assert.strictEqual(video.codec_name, "mpeg4")
    assert.strictEqual(audio.codec_name, "mp2")

    const recordedFrames = countFrames(recording, recordedVideo.index)
    assert.isAtLeast(recordedFrames, SECONDS * 30 - 2, "the recording itself is whole")
    const decodedFrames = countFrames(played.output, video.index)
    // VLC's transcoder does not drain the encoder's last delayed frame or so at the end of the input.
    assert.isAtMost(Math.abs(decodedFrames - recordedFrames), 3, `VLC decoded ${decodedFrames} of ${recordedFrames}`)
    assert.isAtLeast(samePictures(played.output, recording), recordedFrames - 3, "VLC's pictures are the recording's")

    assert.isAtMost(Math.abs(Number(video.duration) - Number(recordedVideo.duration)), 0.5)
    assert.isAtMost(Math.abs(Number(audio.duration) - Number(recordedAudio.duration)), 0.5)
    // The 440 Hz sine, decoded by VLC and re-encoded: as loud as in the recording, not silence or noise.
    assert.isAtMost(Math.abs(meanVolume(played.output) - meanVolume(recording)), 1.5)
  })

  it("the same judge rejects a damaged copy of the recording", () => {
    // 64 KiB of a fixed byte pattern over the middle of a copy: TS packets lost, sync broken, frames undecodable.
    const damaged = work.add(recording, "damaged.ts")
    const bytes = fs.readFileSync(damaged)
    const start = Math.floor(bytes.length * 0.4)
    for (let i = 0; i < 64 * 1024; i++) bytes[start + i] = (i * 151 + 7) & 0xff
    fs.writeFileSync(damaged, bytes)

    const played = vlcTranscode(work, damaged, "damaged-out.mpg")
    assert.isTrue(playbackProblems(played.log).some((line) => / ts demux (?:warning|error): /.test(line)), played.log)
    const recordedFrames = countFrames(recording, streamOf(recording, "video").index)
    assert.isBelow(samePictures(played.output, recording), recordedFrames - 3)
  })
})
