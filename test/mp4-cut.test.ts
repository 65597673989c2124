/**
 * Time-range cuts of MP4s (manual, "Downloading and playing a certain part of a recording file"), judged by ffprobe
 * and mp4box rather than our own reader: ffmpeg-made sources (B-frames or not, moov first or last, audio only) and
 * files from our Mp4Recorder (millisecond timestamps, co64, a late audio track). Every cut must decode cleanly,
 * start with the keyframe at or before `start`, hold exactly the source's frames up to `end`, last E minus the
 * keyframe's time, and keep audio where it was against video.
 */
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as fc from "fast-check"
import { createFile, MP4BoxBuffer } from "mp4box"
import { afterAll, beforeAll } from "vitest"
import { Mp4Recorder } from "../src/containers/isobmff/index.ts"
import { cutMp4 } from "../src/containers/isobmff/mp4-cut.ts"
import { coreMedia, decodeErrors, topLevelBoxes } from "./support/ffprobe.ts"

const FPS = 30
const EPS = 1e-6
let dir = ""
const file = (name: string) => path.join(dir, name)

const ffmpeg = (args: ReadonlyArray<string>) => {
  const result = spawnSync("ffmpeg", ["-nostdin", "-v", "error", "-y", ...args], { timeout: 120_000 })
  if (result.status !== 0) throw new Error(`ffmpeg ${args.join(" ")}: ${result.stderr}`)
}

const VIDEO = ["-f", "lavfi", "-i", `testsrc2=size=320x240:rate=${FPS}`]
const AUDIO = ["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100"]
/** Keyframes every 1.5 s, so `start` usually falls between two of them. */
const H264 = (bframes: number) => ["-c:v", "libx264", "-preset", "veryfast", "-g", "45", "-bf", String(bframes)]

/** Records every frame of `src` (timestamps rounded to milliseconds, as RTMP delivers them) with our writer. */
interface RecordOptions {
  readonly moovFirst: boolean
  readonly co64: boolean
  /** Milliseconds: frames of that kind presented earlier are not recorded (a track that starts late); video
   * starts at a keyframe. */
  readonly audioFrom?: number
  readonly videoFrom?: number
}

const record = (src: string, name: string, options: RecordOptions) =>
  Effect.gen(function*() {
    const media = coreMedia(src, { milliseconds: true })
    const tmpPath = file(`${name}.tmp`)
    const recorder = yield* Mp4Recorder.open({ tmpPath, tracks: media.tracks, creationTime: Date.UTC(2026, 0, 2) })
    let videoStarted = false
    for (const { track, frame } of media.frames) {
      if (frame.kind === "audio" && frame.pts < (options.audioFrom ?? 0)) continue
      // Video starts at its first keyframe from videoFrom on, and keeps every frame after it in decode order.
      videoStarted ||= frame.kind === "video" && frame.keyframe && frame.pts >= (options.videoFrom ?? 0)
      if (frame.kind === "video" && !videoStarted) continue
      assert.isUndefined(recorder.push(track, frame))
    }
    yield* recorder.finalize({ finalPath: file(name), moovFirst: options.moovFirst, forceLargeOffsets: options.co64 })
  })

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "capstan-mp4-cut-"))
  ffmpeg([...VIDEO, ...AUDIO, "-t", "8", ...H264(2), "-c:a", "aac", file("ff-bf2.mp4")])
  ffmpeg([...VIDEO, ...AUDIO, "-t", "8", ...H264(0), "-c:a", "aac", "-movflags", "+faststart", file("ff-bf0-fast.mp4")])
  ffmpeg([...AUDIO, "-t", "8", "-c:a", "aac", file("ff-audio.mp4")])
  await Effect.runPromise(Effect.all([
    record(file("ff-bf2.mp4"), "our-bf2.mp4", { moovFirst: true, co64: false }),
    record(file("ff-bf2.mp4"), "our-co64-last.mp4", { moovFirst: false, co64: true }),
    record(file("ff-bf2.mp4"), "our-late-audio.mp4", { moovFirst: true, co64: false, audioFrom: 600 }),
    // Keyframes every 1.5 s: video starts at its second keyframe, 1.5 s after audio.
    record(file("ff-bf2.mp4"), "our-late-video.mp4", { moovFirst: false, co64: false, videoFrom: 1400 })
  ]))
})

afterAll(() => fs.rmSync(dir, { recursive: true, force: true }))

interface Packet {
  readonly pts: number
  readonly end: number
  readonly dts: number
  readonly key: boolean
  readonly discard: boolean
  readonly hash: string
  /** pts - dts in stream ticks (the composition offset). */
  readonly cts: number
  readonly dtsTicks: number
}

interface Stream {
  readonly type: string
  readonly packets: Array<Packet>
}

interface Probed {
  readonly streams: Array<Stream>
  readonly duration: number
}

const probedSources = new Map<string, Probed>()

/** Every stream's packets (seconds, after ffmpeg applied the edit lists) with an MD5 of their data. */
const probePackets = (src: string): Probed => {
  const args = ["-v", "error", "-of", "json", "-show_streams", "-show_format", "-show_entries",
    "packet=stream_index,pts,dts,duration,flags,data_hash", "-show_data_hash", "MD5", src]
  const out = JSON.parse(spawnSync("ffprobe", args, { encoding: "utf8", maxBuffer: 256 << 20 }).stdout)
  const streams: Array<Stream> = out.streams.map((s: any) => ({ type: s.codec_type, packets: [] }))
  const tb = out.streams.map((s: any) => s.time_base.split("/").map(Number))
  for (const p of out.packets) {
    const [num, den] = tb[p.stream_index]
    const flags = String(p.flags)
    streams[p.stream_index]!.packets.push({
      pts: (Number(p.pts) * num) / den,
      end: ((Number(p.pts) + Number(p.duration)) * num) / den,
      dts: (Number(p.dts) * num) / den,
      key: flags.includes("K"),
      discard: flags.includes("D"),
      hash: p.data_hash,
      cts: Number(p.pts) - Number(p.dts),
      dtsTicks: Number(p.dts)
    })
  }
  return { streams, duration: Number(out.format.duration) }
}

/** Frames ffprobe decodes in each stream, in one pass. */
const framesPerStream = (src: string): Array<number> => {
  const args = ["-v", "error", "-of", "json", "-count_frames", "-show_entries", "stream=nb_read_frames", src]
  const out = JSON.parse(spawnSync("ffprobe", args, { encoding: "utf8" }).stdout)
  return out.streams.map((s: any) => Number(s.nb_read_frames))
}

/** The source packet with the same bytes as `packet`, nearest in time to `near`. */
const sourceOf = (source: Stream, packet: Packet, near: number): Packet => {
  const candidates = source.packets.filter((p) => p.hash === packet.hash)
  assert.isAbove(candidates.length, 0, "the cut's packet comes from the source")
  return candidates.reduce((a, b) => (Math.abs(b.pts - near) < Math.abs(a.pts - near) ? b : a))
}

/** Edit lists as mp4box.js reads them: [segment_duration, media_time] per track, plus the movie timescale. */
const editLists = (src: string) => {
  const bytes = fs.readFileSync(src)
  const parsed = createFile()
  let ready = false
  parsed.onReady = () => (ready = true)
  const copy = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length)
  parsed.appendBuffer(MP4BoxBuffer.fromArrayBuffer(copy, 0))
  parsed.flush()
  assert.isTrue(ready, `mp4box reads ${src}`)
  const moov = (parsed as any).moov
  return {
    timescale: moov.mvhd.timescale as number,
    tracks: (moov.traks as Array<any>).map((trak) =>
      (trak.edts?.elst.entries ?? []).map((e: any) => [Number(e.segment_duration), Number(e.media_time)])
    ) as Array<Array<[number, number]>>
  }
}

/** Judges `cut` of `src` for [start, end) with ffprobe and mp4box; returns the chosen start for reports. */
const judge = (src: string, cut: string, start: number | undefined, end: number | undefined) => {
  assert.strictEqual(decodeErrors(cut), "", "the cut decodes without errors")
  assert.deepStrictEqual(topLevelBoxes(cut).map((b) => b.type), ["ftyp", "moov", "mdat"])
  const source = probedSources.get(src) ?? probePackets(src)
  probedSources.set(src, source)
  const output = probePackets(cut)
  const refIndex = source.streams.findIndex((s) => s.type === "video") >= 0
    ? source.streams.findIndex((s) => s.type === "video")
    : source.streams.findIndex((s) => s.type === "audio")
  const refSource = source.streams[refIndex]!
  const refCut = output.streams.find((s) => s.type === refSource.type)!
  const wanted = start ?? 0
  const isVideo = refSource.type === "video"

  // The cut's first shown frame is the source's keyframe at or before start (audio: the frame holding start).
  const firstShown = refCut.packets.find((p) => !p.discard)!
  assert.isTrue(firstShown.key, "the cut starts with a keyframe")
  const keyframes = refSource.packets.filter((p) => p.key && !p.discard)
  const expectedKey = [...keyframes].reverse().find((p) => p.pts <= wanted + EPS) ?? keyframes[0]!
  const chosen = sourceOf(refSource, firstShown, expectedKey.pts)
  assert.approximately(chosen.pts, expectedKey.pts, EPS, "the keyframe at or before start")
  // The cut starts there; if the source's first keyframe comes after start, at start (the video then starts late).
  const cutStart = Math.min(chosen.pts, wanted)
  assert.approximately(firstShown.pts, chosen.pts - cutStart, EPS, "the first frame is presented where it was")

  // Duration: E (or the source's end) minus the keyframe's time, within a frame.
  const frame = isVideo ? 1 / FPS : 1024 / 44100
  const expectedEnd = Math.min(end ?? Infinity, source.duration)
  assert.approximately(Number(output.duration), expectedEnd - cutStart, frame, "duration")

  // Exactly the source's frames presented in [keyframe, end), for every stream. The edit list ends on a tick of the
  // movie timescale, so a frame that starts less than one tick before the end may be cut off by the player.
  const decoded = framesPerStream(cut)
  const tick = 1 / editLists(cut).timescale
  source.streams.forEach((stream, i) => {
    const cutIndex = output.streams.findIndex((s) => s.type === stream.type)
    const shown = stream.packets.filter((p) => !p.discard)
    const inRange = (before: number) =>
      stream.type === "video"
        ? shown.filter((p) => p.pts >= cutStart - EPS && p.pts < before).length
        : shown.filter((p) => p.end > cutStart + EPS && p.pts < before).length
    const all = inRange(expectedEnd - EPS)
    const sure = inRange(expectedEnd - tick)
    assert.isAtLeast(decoded[cutIndex]!, sure, `${stream.type} frames (stream ${i})`)
    assert.isAtMost(decoded[cutIndex]!, all, `${stream.type} frames (stream ${i})`)
  })

  // Audio keeps its place against video: the first audio heard in the cut is as far from the first frame as in
  // the source, within one frame.
  const video = output.streams.find((s) => s.type === "video")
  const audio = output.streams.find((s) => s.type === "audio")
  if (video !== undefined && audio !== undefined) {
    const firstAudio = audio.packets.find((p) => !p.discard)!
    const sourceAudio = sourceOf(source.streams.find((s) => s.type === "audio")!, firstAudio, cutStart + firstAudio.pts)
    assert.approximately(firstAudio.pts, sourceAudio.pts - cutStart, 1 / FPS, "A/V offset")
  }

  // Edit lists (mp4box): video media starts at its keyframe's composition offset, as in the source, so B-frame
  // reordering is kept; audio media starts after the one pre-roll frame; every track's edits fit the movie.
  const edits = editLists(cut)
  const refEdits = edits.tracks[output.streams.indexOf(refCut)]!
  const mediaTime = refEdits.at(-1)![1]
  if (isVideo) {
    assert.strictEqual(mediaTime, chosen.cts, "media_time is the keyframe's composition offset in the source")
  } else {
    const preRoll = refCut.packets[0]!
    const earlier = refSource.packets.some((p) => p.pts < chosen.pts - EPS)
    assert.strictEqual(preRoll.discard, earlier, "a hidden pre-roll frame unless the source has none before")
    assert.strictEqual(mediaTime, -preRoll.dtsTicks, "media_time skips the pre-roll")
  }
  for (const track of edits.tracks) {
    const total = track.reduce((sum, [duration]) => sum + duration, 0)
    assert.isAtMost(total / edits.timescale, Number(output.duration) + 1 / edits.timescale)
  }
  return cutStart
}

const cut = (src: string, start: number | undefined, end: number | undefined, name: string) =>
  Effect.gen(function*() {
    const target = file(name)
    const result = yield* cutMp4({ source: file(src), target, start, end })
    assert.isFalse(fs.existsSync(`${target}.part`), "no .part left")
    assert.strictEqual(result.bytes, fs.statSync(target).size)
    return { target, result }
  })

const cases: ReadonlyArray<readonly [string, number | undefined, number | undefined]> = [
  ["ff-bf2.mp4", 3.2, 6.1],
  // The last audio frame starts 7 µs before the end: under one tick of the movie timescale (ms).
  ["ff-bf2.mp4", 3.027, 3.483],
  ["ff-bf2.mp4", 1.5, 3],
  ["ff-bf2.mp4", undefined, 4],
  ["ff-bf2.mp4", 5, undefined],
  ["ff-bf2.mp4", 7.9, undefined],
  ["ff-bf2.mp4", 0, 100],
  ["ff-bf0-fast.mp4", 2.2, 5.5],
  ["ff-audio.mp4", 2.5, 6],
  ["ff-audio.mp4", undefined, 3],
  ["ff-audio.mp4", 4.3, undefined],
  ["our-bf2.mp4", 3.2, 6.1],
  ["our-co64-last.mp4", 2.2, 5],
  ["our-late-audio.mp4", undefined, 4],
  ["our-late-audio.mp4", 0.2, 2],
  ["our-late-audio.mp4", 3, 6],
  ["our-late-video.mp4", undefined, 4],
  ["our-late-video.mp4", 0.5, 3],
  ["our-late-video.mp4", 2, 5]
]

describe("cutMp4", () => {
  for (const [src, start, end] of cases) {
    it.effect(`${src} from ${start ?? "the beginning"} to ${end ?? "the end"}`, () =>
      Effect.gen(function*() {
        const { target, result } = yield* cut(src, start, end, `${src}-${start}-${end}.mp4`)
        const cutStart = judge(file(src), target, start, end)
        assert.approximately(result.startSeconds, cutStart, EPS, "reported start")
      }))
  }

  it.effect("a cut of a whole file keeps every frame", () =>
    Effect.gen(function*() {
      const { target } = yield* cut("ff-bf2.mp4", undefined, undefined, "whole.mp4")
      assert.deepStrictEqual(framesPerStream(target), framesPerStream(file("ff-bf2.mp4")))
    }))

  it.effect("a start at or past the end selects nothing: EmptyRange, and no file", () =>
    Effect.gen(function*() {
      const target = file("empty.mp4")
      const error = yield* Effect.flip(cutMp4({ source: file("ff-bf2.mp4"), target, start: 8.5 }))
      assert.strictEqual(error.reason, "EmptyRange")
      assert.isFalse(fs.existsSync(target) || fs.existsSync(`${target}.part`))
    }))

  it.effect("not an MP4: Malformed; a missing file: Io", () =>
    Effect.gen(function*() {
      fs.writeFileSync(file("text.mp4"), "hello, this is not a movie at all")
      const notMp4 = yield* Effect.flip(cutMp4({ source: file("text.mp4"), target: file("x.mp4"), start: 1 }))
      assert.strictEqual(notMp4.reason, "Malformed")
      const missing = yield* Effect.flip(cutMp4({ source: file("missing.mp4"), target: file("y.mp4"), start: 1 }))
      assert.strictEqual(missing.reason, "Io")
    }))

  it.effect("property: any (start, end) plays, with the source's video frames from the keyframe to end", () =>
    Effect.promise(() =>
      fc.assert(
        fc.asyncProperty(
          fc.integer({ min: 0, max: 7800 }),
          fc.integer({ min: 1, max: 3000 }),
          (startMs, lengthMs) => {
            const start = startMs / 1000
            const end = (startMs + lengthMs) / 1000
            const name = `prop-${startMs}-${lengthMs}.mp4`
            return Effect.runPromise(cut("ff-bf2.mp4", start, end, name)).then(({ target }) => {
              judge(file("ff-bf2.mp4"), target, start, end)
              fs.rmSync(target)
            })
          }
        ),
        { numRuns: 10 }
      )
    ))
})
