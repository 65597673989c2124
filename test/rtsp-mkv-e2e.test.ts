/**
 * Issue #5 end to end: the whole server pulls a GStreamer RTSP camera (H.264 with PCMA, PCMU or G.722 audio) through
 * /rest-api/rtsp/startup and records it with record_formats=h264-mkv, keeping the audio as it comes (A_MS/ACM).
 * Each file is judged by ffprobe/ffmpeg (codecs, rates, packet counts, duration, A/V start, clean decode, a seek to
 * the middle, a 440 Hz tone), by mkvmerge/mkvinfo (codec ids, duration, Cues) and by mediabunny's demuxer.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import { audioTone, mkvinfoClusters, mkvmergeIdentify } from "./fixtures/containers/media-judges.ts"
import { readBack } from "./fixtures/containers/source-media.ts"
import { type CapstanProcess, startCapstan } from "./support/capstan-process.ts"
import { decodeErrors, packets, packetsFrom, probe } from "./support/ffprobe.ts"
import { type CameraMount, type RtspCamera, startRtspCamera } from "./support/rtsp-camera.ts"
import { sleep, until } from "./support/wait.ts"

/** How long each pull records once its packets flow; the camera sends a key frame every 30 frames (1.2 s). */
const RECORD_SECONDS = 6
const KEYFRAME_INTERVAL_SECONDS = 1.2
const VIDEO_FPS = 25
/** Every camera audio packet carries 20 ms (GStreamer's default ptime for these payloaders). */
const AUDIO_PACKET_SECONDS = 0.02

const CASES: ReadonlyArray<{
  readonly mount: CameraMount
  readonly audio: string
  readonly sampleRate: number
}> = [
  { mount: "/h264pcma", audio: "pcm_alaw", sampleRate: 8000 },
  { mount: "/h264pcmu", audio: "pcm_mulaw", sampleRate: 8000 },
  { mount: "/h264g722", audio: "adpcm_g722", sampleRate: 16_000 }
]

const post = async (url: string, body: unknown) => {
  const response = await fetch(url, { method: "POST", body: JSON.stringify(body) })
  return { status: response.status, json: await response.json() as any }
}

const streamName = (mount: CameraMount) => `cam${mount.slice(1)}`

/** Seconds of a stream's packet timestamps. */
const seconds = (timeBase: string, ticks: number) => {
  const [num, den] = timeBase.split("/").map(Number)
  return (ticks * num!) / den!
}

describe("RTSP pull recorded to MKV with the camera's G.711/G.722 audio kept", () => {
  let camera: RtspCamera | undefined
  let server: CapstanProcess | undefined
  /** Wall-clock seconds of each pull, from its startup request to its terminate: the most it can have recorded. */
  const recorded = new Map<CameraMount, number>()
  const pullRows = new Map<CameraMount, any>()

  beforeAll(async () => {
    camera = await startRtspCamera()
    server = await startCapstan({
      stream_record_policy_template: "{streamName}",
      record_rtsp_streams: "true",
      record_formats: "h264-mkv"
    })
    const api = (name: string) => server!.url(`/rest-api/rtsp/${name}`)
    const requested = new Map<CameraMount, number>()
    for (const { mount } of CASES) {
      requested.set(mount, Date.now())
      const started = await post(api("startup"), { uri: camera.url(mount), localStreamName: streamName(mount) })
      assert.strictEqual(started.status, 200, JSON.stringify(started.json))
    }
    await until("every pull to receive packets", async () => {
      const rows: Array<any> = (await post(api("find_all"), {})).json
      const flowing = rows.filter((row) => row.state === "PLAYING" && row.packets > 0)
      return flowing.length === CASES.length ? true : undefined
    })
    await sleep(RECORD_SECONDS * 1000)
    const rows: Array<any> = (await post(api("find_all"), {})).json
    for (const { mount } of CASES) {
      pullRows.set(mount, rows.find((r) => r.localStreamName === streamName(mount)))
      assert.strictEqual((await post(api("terminate"), { uri: camera.url(mount) })).status, 200)
      recorded.set(mount, (Date.now() - requested.get(mount)!) / 1000)
    }
    // Each terminate ends its publication, and the recorder says when the file is complete.
    for (const { mount } of CASES) await server.waitForLog(new RegExp(`recorded \\S+/${streamName(mount)}\\.mkv `))
    await server.stop()
  })

  afterAll(async () => {
    await server?.stop()
    await camera?.stop()
  })

  for (const { mount, audio, sampleRate } of CASES) {
    it(`H.264 + ${audio} from ${mount}`, async () => {
      const row = pullRows.get(mount)
      assert.deepInclude(row, { state: "PLAYING", lost: 0, errors: 0 }, JSON.stringify(row))
      const file = path.join(server!.recordDir, `${streamName(mount)}.mkv`)
      assert.isTrue(fs.existsSync(file), `${file} among ${fs.readdirSync(server!.recordDir).join(", ")}`)

      // ffprobe: codecs, audio format, duration.
      const probed = probe(file)
      assert.deepStrictEqual(probed.streams.map((s) => s.codec_name), ["h264", audio])
      const [videoStream, audioStream] = probed.streams
      assert.strictEqual(audioStream!.sample_rate, String(sampleRate))
      assert.strictEqual(audioStream!.channels, 1)
      const duration = Number(probed.format.duration)
      const wallClock = recorded.get(mount)!
      assert.isAtLeast(duration, RECORD_SECONDS - KEYFRAME_INTERVAL_SECONDS - 0.3, `duration ${duration} s`)
      assert.isAtMost(duration, wallClock + 0.1, `duration ${duration} s of ${wallClock} s pulled`)

      // Packets: every video frame at 25 fps, one audio packet per 20 ms, both starting together.
      const video = packets(file, 0)
      const sound = packets(file, 1)
      const videoStart = seconds(videoStream!.time_base, video[0]!.pts)
      const audioStart = seconds(audioStream!.time_base, sound[0]!.pts)
      const starts = `video starts at ${videoStart} s, audio at ${audioStart} s`
      assert.isAtMost(Math.abs(videoStart - audioStart), 0.1, starts)
      assert.isTrue(video[0]!.keyframe, "the file starts with a key frame")
      assert.isAtLeast(video.length, Math.floor((duration - 0.2) * VIDEO_FPS), `${video.length} video frames`)
      assert.isAtMost(video.length, Math.ceil((duration + 0.2) * VIDEO_FPS), `${video.length} video frames`)
      const audioSpan = seconds(audioStream!.time_base, sound.at(-1)!.pts - sound[0]!.pts) + AUDIO_PACKET_SECONDS
      assert.approximately(sound.length, audioSpan / AUDIO_PACKET_SECONDS, 2, "one packet per 20 ms, none missing")
      assert.approximately(audioSpan, duration, 0.25, `audio spans ${audioSpan} s of ${duration} s`)

      // ffmpeg: decodes cleanly, and the audio is the camera's 440 Hz tone (not silence, not garbage).
      assert.strictEqual(decodeErrors(file), "")
      const tone = audioTone(file)
      assert.isAbove(tone.rmsDb, -40, `tone level ${tone.rmsDb} dB`)
      assert.approximately(tone.crestFactor, Math.SQRT2, 0.2, `crest factor ${tone.crestFactor} of a sine`)
      assert.approximately(tone.frequency, 440, 25, `tone at ${tone.frequency} Hz`)

      // mkvtoolnix: codec ids, duration, Cues and clusters.
      const identified = mkvmergeIdentify(file)
      assert.isTrue(identified.recognized && identified.supported, JSON.stringify(identified))
      assert.deepStrictEqual(identified.errors, [])
      assert.deepStrictEqual(identified.tracks.map((t) => [t.type, t.codecId]), [
        ["video", "V_MPEG4/ISO/AVC"],
        ["audio", "A_MS/ACM"]
      ])
      assert.approximately(identified.durationSeconds!, duration, 0.1)
      const { clusters, hasCues } = mkvinfoClusters(file)
      assert.isTrue(hasCues, "Cues")
      assert.isAtLeast(clusters.length, 1)
      assert.deepStrictEqual(clusters, [...clusters].sort((a, b) => a - b), "clusters in time order")

      // Seekable: the Cues list every video key frame, and ffprobe's -read_intervals seeks to the index entry
      // nearest the target: a seek to the middle lands on the last key frame at or before it, or on the first one
      // after it when that is nearer.
      const middle = duration / 2
      const [landed] = packetsFrom(file, 0, middle, 1)
      const keyTimes = packets(file, 0).filter((p) => p.keyframe).map((p) => seconds(videoStream!.time_base, p.pts))
      const around = [keyTimes.filter((t) => t <= middle).pop(), keyTimes.find((t) => t > middle)]
      assert.isTrue(landed!.keyframe, `a key frame after seeking to ${middle} s`)
      assert.include(around, seconds(videoStream!.time_base, landed!.pts), `a key frame next to ${middle} s`)

      // mediabunny reads the same video packets.
      const [readVideo] = await readBack(file)
      assert.strictEqual(readVideo?.type, "video")
      assert.strictEqual(readVideo?.codec, "avc")
      assert.strictEqual(readVideo!.packets.length, video.length)
    })
  }
})
