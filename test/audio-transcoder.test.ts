import { performance } from "node:perf_hooks"
import { NodeServices } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import type { AudioTrack, Frame, VideoTrack } from "../src/media/frame.ts"
import { parseAudioSpecificConfig } from "../src/media/aac-config.ts"
import {
  AudioTranscoder,
  startTranscoder,
  TranscoderError,
  type TranscoderOptions
} from "../src/pipelines/audio-transcoder.ts"
import { tempDir } from "./fixtures/containers/source-media.ts"
import {
  type BeepCodec,
  beepOnsets,
  makeBeepSource,
  readBeepFrames,
  streamTiming,
  writeMp4
} from "./fixtures/audio-transcoder/beeps.ts"
import { transcodeFrames } from "./fixtures/audio-transcoder/run-transcoder.ts"
import { decodeErrors, probe } from "./support/ffprobe.ts"
import { isAlive } from "./support/processes.ts"

const dir = tempDir("audio-transcoder")
const SECONDS = 4
/** The A/V sync budget of the brief. */
const SYNC = 0.04
/**
 * Beeps must come where the input had them: the priming frame (23 ms) or the Opus lookahead (6.5 ms) would show.
 * AAC's pre-echo can move an onset earlier by up to two short windows (2 x 128 samples: 5.8 ms at 44.1 kHz, 32 ms at
 * 8 kHz).
 */
const onsetTolerance = (sampleRate: number) => 0.003 + 256 / sampleRate
/** The file's audio lasts as long as the input, give or take the last AAC frame's padding (128 ms at 8 kHz). */
const durationTolerance = (sampleRate: number) => Math.max(SYNC, 1024 / sampleRate)
const SYSTEM_FFMPEG = "/usr/bin/ffmpeg"
const INSTALLER_FFMPEG = "node_modules/@ffmpeg-installer/linux-x64/ffmpeg"

interface Source {
  readonly audio: AudioTrack
  readonly frames: Array<Frame>
  readonly video?: { readonly track: VideoTrack; readonly frames: Array<Frame> }
  /** Input audio duration, seconds: first pts to the end of the last frame. */
  readonly duration: number
}

const loadSource = (codec: BeepCodec, options: { readonly channels?: number; readonly video?: boolean } = {}) =>
  Effect.promise(async (): Promise<Source> => {
    const { tracks, frames } = await readBeepFrames(makeBeepSource(dir, codec, SECONDS, options))
    const a = tracks.findIndex((t) => t.kind === "audio")
    const v = tracks.findIndex((t) => t.kind === "video")
    const audio = tracks[a] as AudioTrack
    const audioFrames = frames.filter((f) => f.trackIndex === a).map((f) => f.frame)
    const last = audioFrames.at(-1)!
    const lastSamples = codec === "OPUS" ? 960 : last.data.length / audio.channels
    const duration = (last.pts - audioFrames[0]!.pts) / audio.timescale + lastSamples / audio.sampleRate
    if (v < 0) return { audio, frames: audioFrames, duration }
    const videoFrames = frames.filter((f) => f.trackIndex === v).map((f) => f.frame)
    return { audio, frames: audioFrames, duration, video: { track: tracks[v] as VideoTrack, frames: videoFrames } }
  })

/** The transcoded audio (and the source's video) in one MP4 written by the real writer, interleaved by time. */
const mp4Of = (name: string, source: Source, output: AudioTrack, audio: ReadonlyArray<Frame>) => {
  const tracks = source.video === undefined ? [output] : [output, source.video.track]
  const items = audio.map((frame) => ({ track: 0, frame, t: frame.dts / output.timescale }))
  const video = source.video
  video?.frames.forEach((frame) => items.push({ track: 1, frame, t: frame.dts / video.track.timescale }))
  items.sort((x, y) => x.t - y.t)
  return writeMp4(`${dir}/${name}.mp4`, tracks, items)
}

describe("AudioTranscoder: Opus, G.711 and G.722 to AAC in MP4, judged by ffprobe", () => {
  it.live.each([
    { codec: "OPUS", sourceChannels: 2, sampleRate: 44_100, channels: 2, ffmpeg: SYSTEM_FFMPEG },
    { codec: "OPUS", sourceChannels: 1, sampleRate: 48_000, channels: 1, ffmpeg: SYSTEM_FFMPEG },
    { codec: "PCMA", sourceChannels: 1, sampleRate: 44_100, channels: 2, ffmpeg: SYSTEM_FFMPEG },
    { codec: "PCMU", sourceChannels: 1, sampleRate: 48_000, channels: 1, ffmpeg: SYSTEM_FFMPEG },
    { codec: "PCMA", sourceChannels: 1, sampleRate: 8_000, channels: 1, ffmpeg: SYSTEM_FFMPEG },
    { codec: "G722", sourceChannels: 1, sampleRate: 16_000, channels: 1, ffmpeg: SYSTEM_FFMPEG },
    // The fallback binary (@ffmpeg-installer/ffmpeg, an ffmpeg 4 build from 2018) takes the same command.
    { codec: "OPUS", sourceChannels: 2, sampleRate: 44_100, channels: 2, ffmpeg: INSTALLER_FFMPEG },
    { codec: "PCMU", sourceChannels: 1, sampleRate: 48_000, channels: 2, ffmpeg: INSTALLER_FFMPEG },
    { codec: "G722", sourceChannels: 1, sampleRate: 44_100, channels: 1, ffmpeg: INSTALLER_FFMPEG }
  ] as const)("$codec ($sourceChannels ch) to AAC at $sampleRate Hz, $channels ch with $ffmpeg", (c) =>
    Effect.gen(function*() {
      const source = yield* loadSource(c.codec, { channels: c.sourceChannels })
      const result = yield* transcodeFrames(source.audio, source.frames, {
        sampleRate: c.sampleRate,
        channels: c.channels,
        bitrateMode: 5,
        ffmpegPath: c.ffmpeg
      })
      assert.deepStrictEqual(result.errors, [])
      assert.strictEqual(result.stats.dropped, 0)
      assert.strictEqual(result.stats.pushed, source.frames.length)
      // The output track is known up front and says what ffmpeg wrote.
      assert.deepStrictEqual(parseAudioSpecificConfig(result.output.config), {
        audioObjectType: 2,
        sampleRate: c.sampleRate,
        channels: c.channels
      })
      assert.strictEqual(result.output.timescale, c.sampleRate)
      // On the input's timeline: the first frame at the first input pts, then 1024 samples apart.
      const firstPts = Math.round((source.frames[0]!.pts * c.sampleRate) / source.audio.timescale)
      result.frames.forEach((frame, i) => assert.strictEqual(frame.pts, firstPts + i * 1024))

      const via = c.ffmpeg === SYSTEM_FFMPEG ? "system" : "installer"
      const name = `${c.codec}-${c.sourceChannels}-${c.sampleRate}-${c.channels}-${via}`
      const file = yield* mp4Of(name, source, result.output, result.frames)
      const stream = probe(file).streams[0]!
      assert.strictEqual(stream.codec_name, "aac")
      assert.strictEqual(Number(stream.sample_rate), c.sampleRate)
      assert.strictEqual(stream.channels, c.channels)
      assert.isAtMost(Math.abs(Number(stream.duration) - source.duration), durationTolerance(c.sampleRate))
      assert.strictEqual(decodeErrors(file), "")
      const onsets = beepOnsets(file)
      const start = source.frames[0]!.pts / source.audio.timescale
      assert.deepStrictEqual(onsets.map(Math.round), [1, 2, 3])
      for (const onset of onsets) {
        assert.isAtMost(Math.abs(onset + start - Math.round(onset)), onsetTolerance(c.sampleRate))
      }
    }))

  it.live.each(["OPUS", "PCMA"] as const)("%s keeps A/V sync with the video recorded next to it", (codec) =>
    Effect.gen(function*() {
      const source = yield* loadSource(codec, { video: true })
      const settings = { sampleRate: 44_100, channels: 2, bitrateMode: 0 }
      const result = yield* transcodeFrames(source.audio, source.frames, settings)
      const file = yield* mp4Of(`sync-${codec}`, source, result.output, result.frames)
      const audio = streamTiming(file, "audio")
      const video = streamTiming(file, "video")
      assert.isAtMost(Math.abs(audio.start - video.start), SYNC)
      assert.isAtMost(Math.abs(audio.duration - video.duration), SYNC)
      // The video's first frame is the beep source's instant 0: each beep lands k seconds after it.
      const onsets = beepOnsets(file)
      assert.strictEqual(onsets.length, SECONDS - 1)
      onsets.forEach((onset, k) => assert.isAtMost(Math.abs(onset - video.start - (k + 1)), onsetTolerance(44_100)))
    }))

  it.live.each(["OPUS", "PCMU"] as const)("%s with lost packets and DTX silences does not drift", (codec) =>
    Effect.gen(function*() {
      const source = yield* loadSource(codec, { video: true })
      const rate = source.audio.timescale
      // Lost: every 9th packet, a 0.4 s burst before the 2 s beep, and 0.6 s of DTX between the 2 and 3 s beeps.
      const kept = source.frames.filter((f, i) => {
        const t = f.pts / rate
        return i % 9 !== 4 && !(t >= 1.4 && t < 1.8) && !(t >= 2.25 && t < 2.85)
      })
      const result = yield* transcodeFrames(source.audio, kept, { sampleRate: 48_000, channels: 1, bitrateMode: 3 })
      assert.isAtLeast(result.stats.filledSamples / rate, 1.0 - 0.05)
      const file = yield* mp4Of(`loss-${codec}`, { ...source, frames: kept }, result.output, result.frames)
      const audio = streamTiming(file, "audio")
      const video = streamTiming(file, "video")
      assert.isAtMost(Math.abs(audio.duration - video.duration), SYNC)
      assert.strictEqual(decodeErrors(file), "")
      // A lost packet can take a beep's first 20 ms with it; the beeps that survive stay on time.
      const onsets = beepOnsets(file).filter((onset) => Math.abs(onset - video.start - Math.round(onset)) < 0.1)
      assert.isAtLeast(onsets.length, 2)
      for (const onset of onsets) {
        assert.isAtMost(Math.abs(onset - video.start - Math.round(onset - video.start)), onsetTolerance(48_000))
      }
    }))
})

/** Polls `condition` every 10 ms for up to `seconds`. */
const eventually = (condition: () => boolean, seconds = 5) =>
  Effect.gen(function*() {
    for (let waited = 0; waited < seconds * 1000 && !condition(); waited += 10) yield* Effect.sleep(10)
    return condition()
  })

/** 1 s of A-law per frame: a few fill ffmpeg's stdin pipe (64 KiB) quickly. */
const PCMA_TRACK: AudioTrack = {
  kind: "audio",
  codec: "PCMA",
  timescale: 8000,
  sampleRate: 8000,
  channels: 1,
  config: new Uint8Array(0)
}
const pcmaSecond = (i: number): Frame => ({
  kind: "audio",
  dts: i * 8000,
  pts: i * 8000,
  keyframe: true,
  data: new Uint8Array(8000).fill(0xd5)
})

const base = (collect: { frames: Array<Frame>; errors: Array<string> }): Omit<TranscoderOptions, "input"> => ({
  sampleRate: 44_100,
  channels: 2,
  bitrateMode: 5,
  ffmpegPath: "/usr/bin/ffmpeg",
  onFrame: (frame) => collect.frames.push(frame),
  onError: (message) => collect.errors.push(message)
})

/**
 * A push that waited for ffmpeg would take as long as ffmpeg is stopped (hundreds of ms here); a push measures
 * 2-6 us (median) and under 1.2 ms (max of 1000) on this machine, so this bound leaves room for a GC pause only.
 */
const PUSH_MS = 20

/** Pushes and returns how long the slowest push took, in ms. */
const timedPushes = (push: (frame: Frame) => void, frames: ReadonlyArray<Frame>): number => {
  let slowest = 0
  for (const frame of frames) {
    const t = performance.now()
    push(frame)
    slowest = Math.max(slowest, performance.now() - t)
  }
  return slowest
}

describe("AudioTranscoder supervision", () => {
  it.live("reports a killed ffmpeg through onError, and push keeps returning at once", () =>
    Effect.gen(function*() {
      const source = yield* loadSource("OPUS")
      const collect = { frames: [] as Array<Frame>, errors: [] as Array<string> }
      const transcoder = yield* startTranscoder({ ...base(collect), input: source.audio })
      for (const frame of source.frames.slice(0, 60)) transcoder.push(frame)
      assert.isTrue(yield* eventually(() => collect.frames.length > 0))
      process.kill(transcoder.pid, "SIGKILL")
      assert.isTrue(yield* eventually(() => collect.errors.length > 0))
      assert.lengthOf(collect.errors, 1)
      assert.match(collect.errors[0]!, new RegExp(`^ffmpeg ${transcoder.pid} was killed`))
      const before = transcoder.stats().dropped
      const rest = source.frames.slice(60)
      assert.isBelow(timedPushes(transcoder.push, rest), PUSH_MS)
      assert.strictEqual(transcoder.stats().dropped - before, rest.length)
      const started = performance.now()
      yield* transcoder.close
      assert.isBelow(performance.now() - started, 2000)
      assert.lengthOf(collect.errors, 1)
    }).pipe(Effect.provide(NodeServices.layer)))

  it.live("drops and counts audio while ffmpeg is stopped, never blocking push, and resumes after SIGCONT", () => {
    let pid = 0
    return Effect.gen(function*() {
      const collect = { frames: [] as Array<Frame>, errors: [] as Array<string> }
      // 8 kHz mono out keeps ffmpeg quick to work off the backlog after SIGCONT.
      const options = { ...base(collect), sampleRate: 8000, channels: 1, input: PCMA_TRACK, queueCapacity: 4 }
      const transcoder = yield* startTranscoder(options)
      pid = transcoder.pid
      let next = 0
      for (; next < 5; next++) {
        transcoder.push(pcmaSecond(next))
        yield* Effect.sleep(20)
      }
      assert.isTrue(yield* eventually(() => collect.frames.length > 30))
      assert.strictEqual(transcoder.stats().dropped, 0)

      process.kill(pid, "SIGSTOP")
      let slowest = 0
      for (let i = 0; i < 60 && transcoder.stats().dropped < 5; i++, next++) {
        slowest = Math.max(slowest, timedPushes(transcoder.push, [pcmaSecond(next)]))
        yield* Effect.sleep(5)
      }
      const stalled = transcoder.stats()
      assert.isAtLeast(stalled.dropped, 5)
      assert.isBelow(slowest, PUSH_MS)
      const outWhileStopped = collect.frames.length

      process.kill(pid, "SIGCONT")
      // ffmpeg works off the backlog (tens of seconds of audio) first.
      assert.isTrue(yield* eventually(() => transcoder.stats().queued === 0, 10))
      for (let i = 0; i < 3; i++, next++) {
        transcoder.push(pcmaSecond(next))
        yield* Effect.sleep(20)
      }
      assert.strictEqual(transcoder.stats().dropped, stalled.dropped)
      yield* transcoder.close
      assert.isAbove(collect.frames.length, outWhileStopped)
      assert.deepStrictEqual(collect.errors, [])
      assert.isFalse(isAlive(pid))
    }).pipe(
      Effect.ensuring(Effect.sync(() => {
        if (pid > 0 && isAlive(pid)) {
          process.kill(pid, "SIGCONT")
          process.kill(pid, "SIGKILL")
        }
      })),
      Effect.provide(NodeServices.layer)
    )
  })

  it.live("AudioTranscoder.layer starts transcoders with the platform's process spawner", () =>
    Effect.gen(function*() {
      const collect = { frames: [] as Array<Frame>, errors: [] as Array<string> }
      const transcoders = yield* AudioTranscoder
      const transcoder = yield* transcoders.start({ ...base(collect), input: PCMA_TRACK })
      transcoder.push(pcmaSecond(0))
      yield* transcoder.close
      // 1 s at 44.1 kHz is 43.07 frames of 1024.
      assert.strictEqual(collect.frames.length, 44)
      assert.isFalse(isAlive(transcoder.pid))
    }).pipe(Effect.scoped, Effect.provide(AudioTranscoder.layer), Effect.provide(NodeServices.layer)))

  it.live.each([
    { name: "running", stop: false },
    { name: "stopped (SIGSTOP)", stop: true }
  ])("kills a $name ffmpeg when its scope closes without close()", ({ stop }) => {
    let pid = 0
    return Effect.gen(function*() {
      const collect = { frames: [] as Array<Frame>, errors: [] as Array<string> }
      yield* Effect.scoped(Effect.gen(function*() {
        const transcoder = yield* startTranscoder({ ...base(collect), input: PCMA_TRACK })
        pid = transcoder.pid
        transcoder.push(pcmaSecond(0))
        assert.isTrue(isAlive(pid))
        if (stop) process.kill(pid, "SIGSTOP")
      }))
      assert.isTrue(yield* eventually(() => !isAlive(pid), 3))
    }).pipe(
      Effect.ensuring(Effect.sync(() => pid > 0 && isAlive(pid) && process.kill(pid, "SIGKILL"))),
      Effect.provide(NodeServices.layer)
    )
  })

  it.live("reports an ffmpeg that exits at once (here /bin/false) through onError", () =>
    Effect.gen(function*() {
      const collect = { frames: [] as Array<Frame>, errors: [] as Array<string> }
      const transcoder = yield* startTranscoder({ ...base(collect), ffmpegPath: "/bin/false", input: PCMA_TRACK })
      assert.isTrue(yield* eventually(() => collect.errors.length > 0))
      assert.match(collect.errors[0]!, /exited with code 1/)
      transcoder.push(pcmaSecond(0))
      assert.strictEqual(transcoder.stats().dropped, 1)
      yield* transcoder.close
    }).pipe(Effect.scoped, Effect.provide(NodeServices.layer)))

  it.live.each([
    { name: "a missing ffmpeg", ffmpegPath: "/nonexistent/ffmpeg", input: PCMA_TRACK, reason: "SpawnFailed" },
    { name: "AAC input", input: { ...PCMA_TRACK, codec: "AAC" }, reason: "UnsupportedInput" },
    { name: "stereo G.722 input", input: { ...PCMA_TRACK, codec: "G722", channels: 2 }, reason: "UnsupportedInput" },
    { name: "a 44 kHz output", input: PCMA_TRACK, sampleRate: 44_000, reason: "UnsupportedOutput" }
  ] as const)("fails to start with $reason for $name", (c) =>
    Effect.gen(function*() {
      const collect = { frames: [] as Array<Frame>, errors: [] as Array<string> }
      const error = yield* Effect.flip(startTranscoder({
        ...base(collect),
        input: c.input as AudioTrack,
        ...("ffmpegPath" in c ? { ffmpegPath: c.ffmpegPath } : {}),
        ...("sampleRate" in c ? { sampleRate: c.sampleRate } : {})
      }).pipe(Effect.scoped))
      assert.instanceOf(error, TranscoderError)
      assert.strictEqual(error.reason, c.reason)
    }).pipe(Effect.provide(NodeServices.layer)))
})
