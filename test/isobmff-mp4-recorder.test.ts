import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { createFile, MP4BoxBuffer } from "mp4box"
import { afterAll, beforeAll } from "vitest"
import { Mp4Recorder, type Mp4FinalizeOptions } from "../src/containers/isobmff/index.ts"
import type { Frame, Track } from "../src/media/frame.ts"
import {
  type CoreMedia,
  coreMedia,
  countFrames,
  decodeErrors,
  packets,
  probe,
  topLevelBoxes,
  traceTopLevelBoxes
} from "./support/ffprobe.ts"

let dir = ""
const source = (name: string) => path.join(dir, name)

const ffmpeg = (args: ReadonlyArray<string>) => {
  const result = spawnSync("ffmpeg", ["-nostdin", "-v", "error", "-y", ...args], { timeout: 60_000 })
  if (result.status !== 0) throw new Error(`ffmpeg ${args.join(" ")}: ${result.stderr}`)
}

const VIDEO = ["-f", "lavfi", "-i", "testsrc2=size=640x360:rate=30"]
const AUDIO = ["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100"]

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "capstan-mp4-"))
  ffmpeg([...VIDEO, ...AUDIO, "-t", "4", "-c:v", "libx264", "-g", "30", "-bf", "2", "-c:a", "aac", source("bf2.mp4")])
  ffmpeg([...VIDEO, ...AUDIO, "-t", "4", "-c:v", "libx264", "-g", "30", "-bf", "0", "-c:a", "aac", source("bf0.mp4")])
  ffmpeg([...AUDIO, "-t", "4", "-c:a", "aac", source("audio.mp4")])
  ffmpeg([
    "-f", "lavfi", "-i", "testsrc=size=320x240:rate=25", "-f", "lavfi", "-i", "sine=frequency=880:sample_rate=48000",
    "-t", "2", "-c:v", "libx264", "-g", "25", "-bf", "0", "-c:a", "aac", source("late.mp4")
  ])
})

afterAll(() => fs.rmSync(dir, { recursive: true, force: true }))

/** Pushes every frame of `media` through a recorder and finalizes it. */
const record = (media: CoreMedia, name: string, finalize: Omit<Mp4FinalizeOptions, "finalPath">) =>
  Effect.gen(function*() {
    const tmpPath = path.join(dir, `${name}.mp4.tmp`)
    const recorder = yield* Mp4Recorder.open({ tmpPath, tracks: media.tracks, creationTime: Date.UTC(2026, 0, 2) })
    for (const { track, frame } of media.frames) assert.isUndefined(recorder.push(track, frame))
    const info = yield* recorder.finalize({ finalPath: path.join(dir, `${name}.mp4`), ...finalize })
    assert.isFalse(fs.existsSync(tmpPath), "temp data file removed")
    assert.isFalse(fs.existsSync(`${tmpPath}.idx`), "journal removed")
    return info
  })

interface Mp4BoxView {
  readonly tracks: Array<{ codec: string; nb_samples: number; timescale: number }>
  readonly traks: Array<any>
}

/** Reads a file with mp4box.js, a third parser beside ffprobe and ours. */
const mp4box = (file: string): Mp4BoxView => {
  const bytes = fs.readFileSync(file)
  const parsed = createFile()
  let view: Mp4BoxView | undefined
  parsed.onReady = (info: any) => (view = { tracks: info.tracks, traks: (parsed as any).moov.traks })
  const copy = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length)
  parsed.appendBuffer(MP4BoxBuffer.fromArrayBuffer(copy, 0))
  parsed.flush()
  if (view === undefined) throw new Error(`mp4box could not read ${file}`)
  return view
}

/** Ranks of the values in file order: equal arrays mean the same presentation order. */
const order = (values: ReadonlyArray<number>) =>
  values.map((v, i) => [v, i] as const).sort((a, b) => a[0] - b[0] || a[1] - b[1]).map(([, i]) => i)

const roundTrips = [
  { name: "bf2-moov-first", src: "bf2.mp4", milliseconds: false, moovFirst: true, force: false },
  { name: "bf2-rtmp-ms-moov-last", src: "bf2.mp4", milliseconds: true, moovFirst: false, force: false },
  { name: "bf0-rtmp-ms", src: "bf0.mp4", milliseconds: true, moovFirst: true, force: false },
  { name: "audio-only", src: "audio.mp4", milliseconds: true, moovFirst: true, force: false },
  { name: "bf2-co64-moov-first", src: "bf2.mp4", milliseconds: false, moovFirst: true, force: true },
  { name: "bf2-co64-moov-last", src: "bf2.mp4", milliseconds: true, moovFirst: false, force: true }
] as const

describe("Mp4Recorder round trips judged by ffprobe and mp4box", () => {
  for (const c of roundTrips) {
    it.effect(c.name, () =>
      Effect.gen(function*() {
        const src = source(c.src)
        const media = coreMedia(src, { milliseconds: c.milliseconds })
        const info = yield* record(media, c.name, { moovFirst: c.moovFirst, forceLargeOffsets: c.force })
        const out = info.path
        const [inProbe, outProbe] = [probe(src), probe(out)]

        assert.deepStrictEqual(outProbe.streams.map((s) => s.codec_name), inProbe.streams.map((s) => s.codec_name))
        assert.strictEqual(decodeErrors(out), "")
        assert.approximately(Number(outProbe.format.duration), Number(inProbe.format.duration), 0.1)
        assert.approximately(info.durationSeconds, Number(outProbe.format.duration), 0.01)
        assert.strictEqual(info.bytes, fs.statSync(out).size)

        media.tracks.forEach((track, i) => {
          const stream = outProbe.streams[i]!
          assert.strictEqual(countFrames(out, i), countFrames(src, i), `frames of stream ${i}`)
          assert.strictEqual(Number(stream.start_time), 0, `stream ${i} starts at 0`)
          const sourcePackets = packets(src, i).filter((p) => !p.discard)
          const outPackets = packets(out, i)
          assert.deepStrictEqual(order(outPackets.map((p) => p.pts)), order(sourcePackets.map((p) => p.pts)))
          assert.deepStrictEqual(outPackets.map((p) => p.keyframe), sourcePackets.map((p) => p.keyframe))
          if (track.kind === "video") {
            assert.strictEqual(stream.time_base, "1/90000")
            assert.deepStrictEqual([stream.width, stream.height], [640, 360])
          } else {
            assert.strictEqual(stream.time_base, `1/${track.sampleRate}`)
            // Millisecond timestamps jitter, AAC frames do not: every duration is exactly 1024.
            assert.deepStrictEqual([...new Set(outPackets.map((p) => p.duration))], [1024])
          }
        })

        const boxes = topLevelBoxes(out).map((b) => b.type)
        const expected = c.moovFirst
          ? ["ftyp", "moov", "mdat"]
          : c.force
          ? ["ftyp", "mdat", "moov"]
          : ["ftyp", "free", "mdat", "moov"]
        assert.deepStrictEqual(boxes, expected)
        assert.deepStrictEqual(traceTopLevelBoxes(out), expected)
        const mdat = topLevelBoxes(out).find((b) => b.type === "mdat")!
        const largeSize = fs.readFileSync(out).readUInt32BE(mdat.offset) === 1
        assert.strictEqual(largeSize, c.force, "64-bit mdat size only when forced")

        const view = mp4box(out)
        media.tracks.forEach((track, i) => {
          const trak = view.traks[i]
          const stbl = trak.mdia.minf.stbl
          assert.strictEqual(stbl.co64 !== undefined, c.force, `co64 on track ${i}`)
          const first = media.frames.find((f) => f.track === i)!.frame
          const firstOffset = track.kind === "video"
            ? Math.round(((first.pts - first.dts) * 90000) / track.timescale)
            : 0
          const entries = trak.edts.elst.entries
          assert.strictEqual(entries.length, 1)
          assert.strictEqual(entries[0].media_time, firstOffset, "presentation starts at the first composition offset")
          assert.approximately(entries[0].segment_duration / 1000, info.tracks[i]!.durationSeconds, 0.1)
          assert.strictEqual(view.tracks[i]!.nb_samples, media.frames.filter((f) => f.track === i).length)
          if (media.tracks.length === 1) assert.strictEqual(stbl[c.force ? "co64" : "stco"].chunk_offsets.length, 1)
        })
      }))
  }
})

describe("Mp4Recorder interleaving", () => {
  it.effect("writes one chunk per track per ~0.5 s, alternating tracks, within the byte cap", () =>
    Effect.gen(function*() {
      const media = coreMedia(source("bf2.mp4"), { milliseconds: true })
      const info = yield* record(media, "interleave", { moovFirst: false })
      const view = mp4box(info.path)
      const chunks = view.traks.flatMap((trak: any, track: number) =>
        (trak.mdia.minf.stbl.stco.chunk_offsets as Array<number>).map((offset) => ({ track, offset }))
      ).sort((a, b) => a.offset - b.offset)
      for (const [track] of media.tracks.entries()) {
        const count = chunks.filter((c) => c.track === track).length
        assert.isAtLeast(count, 7)
        assert.isAtMost(count, 10)
      }
      for (let i = 1; i < chunks.length; i++) {
        assert.notStrictEqual(chunks[i]!.track, chunks[i - 1]!.track, "a chunk ends only where the track changes")
      }
    }))

  it.effect("a smaller byte cap makes smaller chunks", () =>
    Effect.gen(function*() {
      const CAP = 16 * 1024
      const media = coreMedia(source("bf0.mp4"), { milliseconds: true })
      const tmpPath = path.join(dir, "cap.mp4.tmp")
      const recorder = yield* Mp4Recorder.open({ tmpPath, tracks: media.tracks, creationTime: 0, interleaveBytes: CAP })
      for (const { track, frame } of media.frames) assert.isUndefined(recorder.push(track, frame))
      const info = yield* recorder.finalize({ finalPath: path.join(dir, "cap.mp4") })
      const mediaBytes = media.frames.reduce((sum, f) => sum + f.frame.data.length, 0)
      const largest = Math.max(...media.frames.map((f) => f.frame.data.length))
      const view = mp4box(info.path)
      const offsets = view.traks
        .flatMap((t: any) => t.mdia.minf.stbl.stco.chunk_offsets as Array<number>)
        .sort((a, b) => a - b)
      const mdat = topLevelBoxes(info.path).find((b) => b.type === "mdat")!
      const ends = [...offsets.slice(1), mdat.offset + mdat.size]
      const biggest = Math.max(...offsets.map((o, i) => ends[i]! - o))
      assert.isAtMost(biggest, Math.max(CAP, largest), "no chunk exceeds the cap unless one frame does")
      assert.isAtLeast(offsets.length, Math.floor(mediaBytes / CAP))
      assert.strictEqual(countFrames(info.path, 0), countFrames(source("bf0.mp4"), 0))
      assert.strictEqual(decodeErrors(info.path), "")
    }))
})

describe("Mp4Recorder with several tracks", () => {
  it.effect("two video and two audio tracks, the second pair added late with an empty edit", () =>
    Effect.gen(function*() {
      const main = coreMedia(source("bf2.mp4"), { milliseconds: true })
      const late = coreMedia(source("late.mp4"), { milliseconds: true })
      const tmpPath = path.join(dir, "multi.mp4.tmp")
      const recorder = yield* Mp4Recorder.open({ tmpPath, tracks: main.tracks, creationTime: 0 })
      const JOIN = 1.5
      const lateIndex: Array<number> = []
      const lateFrames = late.frames.map((f) => ({ ...f, at: JOIN + f.frame.dts / 1000 }))
      for (const { track, frame } of main.frames) {
        const now = frame.dts / 1000
        if (now >= JOIN && lateIndex.length === 0) {
          for (const t of late.tracks) lateIndex.push(recorder.addTrack(t, { startOffset: JOIN }) as number)
        }
        while (lateIndex.length > 0 && lateFrames.length > 0 && lateFrames[0]!.at <= now) {
          const next = lateFrames.shift()!
          assert.isUndefined(recorder.push(lateIndex[next.track]!, next.frame))
        }
        assert.isUndefined(recorder.push(track, frame))
      }
      for (const next of lateFrames) assert.isUndefined(recorder.push(lateIndex[next.track]!, next.frame))
      assert.strictEqual(recorder.trackCount, 4)
      const info = yield* recorder.finalize({ finalPath: path.join(dir, "multi.mp4") })

      const streams = probe(info.path).streams
      assert.deepStrictEqual(streams.map((s) => [s.codec_type, s.codec_name]), [
        ["video", "h264"], ["audio", "aac"], ["video", "h264"], ["audio", "aac"]
      ])
      assert.deepStrictEqual(streams.map((s) => Number(s.start_time)), [0, 0, JOIN, JOIN])
      assert.deepStrictEqual([streams[2]!.width, streams[2]!.height], [320, 240])
      assert.strictEqual(streams[3]!.sample_rate, "48000")
      const sources = [["bf2.mp4", 0], ["bf2.mp4", 1], ["late.mp4", 0], ["late.mp4", 1]] as const
      sources.forEach(([file, stream], i) => {
        assert.strictEqual(countFrames(info.path, i), countFrames(source(file), stream))
      })
      assert.strictEqual(decodeErrors(info.path), "")
      const elst = mp4box(info.path).traks.map((t: any) => t.edts.elst.entries)
      assert.deepStrictEqual(elst[2].map((e: any) => e.media_time), [-1, 0])
      assert.strictEqual(elst[2][0].segment_duration, JOIN * 1000)
      assert.deepStrictEqual([elst[3][0].segment_duration, elst[3][0].media_time], [JOIN * 1000, -1])
    }))

  it.effect("keeps A/V alignment of tracks on one clock: audio starting 200 ms later gets an empty edit", () =>
    Effect.gen(function*() {
      const media = coreMedia(source("bf0.mp4"), { milliseconds: true })
      const shifted = media.frames.map(({ track, frame }) =>
        media.tracks[track]!.kind === "audio"
          ? { track, frame: { ...frame, dts: frame.dts + 200, pts: frame.pts + 200 } }
          : { track, frame }
      )
      const info = yield* record({ tracks: media.tracks, frames: shifted }, "aligned", {})
      const streams = probe(info.path).streams
      assert.deepStrictEqual(streams.map((s) => Number(s.start_time)), [0, 0.2])
      assert.strictEqual(decodeErrors(info.path), "")
    }))
})

const avcC = Uint8Array.of(1, 0x64, 0, 0x1e, 0xff, 0xe0, 0)
const video: Track = { kind: "video", codec: "H264", timescale: 1000, width: 64, height: 64, config: avcC }
const asc = Uint8Array.of(0x11, 0x90)
const audio: Track = { kind: "audio", codec: "AAC", timescale: 1000, sampleRate: 48000, channels: 2, config: asc }
const frameAt = (kind: "video" | "audio", dts: number, keyframe: boolean, size = 100): Frame => ({
  kind,
  dts,
  pts: dts,
  keyframe,
  data: new Uint8Array(size)
})

const openAt = (name: string, tracks: ReadonlyArray<Track>) =>
  Mp4Recorder.open({ tmpPath: path.join(dir, name), tracks, creationTime: 0 })

describe("Mp4Recorder contract", () => {
  it.effect("refuses frames that do not fit and tells why, without throwing", () =>
    Effect.gen(function*() {
      const recorder = yield* openAt("refuse.tmp", [video, audio])
      assert.strictEqual(recorder.push(0, frameAt("video", 0, false))?.reason, "NotKeyframe")
      assert.isUndefined(recorder.push(0, frameAt("video", 40, true)))
      assert.strictEqual(recorder.push(0, frameAt("video", 20, false))?.reason, "DtsOutOfOrder")
      assert.strictEqual(recorder.push(7, frameAt("video", 80, false))?.reason, "UnknownTrack")
      assert.isUndefined(recorder.push(1, frameAt("audio", 0, true)))
      assert.deepStrictEqual([recorder.sampleCount(0), recorder.sampleCount(1)], [1, 1])
      const info = yield* recorder.finalize({ finalPath: path.join(dir, "refuse.mp4") })
      assert.strictEqual(info.tracks.length, 2)
      assert.strictEqual(recorder.push(0, frameAt("video", 80, true))?.reason, "Closed")
      const again = yield* Effect.flip(recorder.finalize({ finalPath: path.join(dir, "refuse2.mp4") }))
      assert.strictEqual(again.reason, "Closed")
    }))

  it.effect("rejects codecs MP4 recording does not carry, and unwritable paths", () =>
    Effect.gen(function*() {
      const vp8: Track = { ...video, codec: "VP8" }
      const codec = yield* Effect.flip(openAt("vp8.tmp", [vp8]))
      assert.strictEqual(codec.reason, "UnsupportedCodec")
      const io = yield* Effect.flip(Mp4Recorder.open({ tmpPath: path.join(dir, "missing", "x.tmp"), creationTime: 0 }))
      assert.strictEqual(io.reason, "Io")
      const recorder = yield* Mp4Recorder.open({ tmpPath: path.join(dir, "late-codec.tmp"), creationTime: 0 })
      const opus = recorder.addTrack({ ...audio, codec: "OPUS" })
      assert.strictEqual(typeof opus === "number" ? opus : opus.reason, "UnsupportedCodec")
      yield* recorder.abort()
    }))

  it("a full disk at open fails synchronously with Io and leaves no files", () => {
    const tmpPath = path.join(dir, "full.tmp")
    fs.symlinkSync("/dev/full", tmpPath)
    const exit = Effect.runSyncExit(Effect.flip(Mp4Recorder.open({ tmpPath, tracks: [video], creationTime: 0 })))
    assert.isTrue(exit._tag === "Success" && exit.value.reason === "Io" && /ENOSPC/.test(exit.value.message))
    assert.isFalse(fs.existsSync(`${tmpPath}.idx`))
    assert.isFalse(fs.existsSync(tmpPath))
  })

  it.effect("finalize without samples fails with NoSamples; abort removes the temp files", () =>
    Effect.gen(function*() {
      const tmpPath = path.join(dir, "empty.tmp")
      const recorder = yield* Mp4Recorder.open({ tmpPath, tracks: [video], creationTime: 0 })
      const error = yield* Effect.flip(recorder.finalize({ finalPath: path.join(dir, "empty.mp4") }))
      assert.strictEqual(error.reason, "NoSamples")
      assert.isFalse(fs.existsSync(path.join(dir, "empty.mp4")))
      yield* recorder.abort()
      assert.isFalse(fs.existsSync(tmpPath))
      assert.isFalse(fs.existsSync(`${tmpPath}.idx`))
    }))

  it.effect("reports bytes, durations and sample counts while recording", () =>
    Effect.gen(function*() {
      const recorder = yield* openAt("stats.tmp", [video, audio])
      for (let i = 0; i < 300; i++) recorder.push(0, frameAt("video", Math.round(i * 1000 / 30), i % 30 === 0, 1000))
      for (let i = 0; i < 450; i++) recorder.push(1, frameAt("audio", Math.round(i * 1024000 / 48000), true, 10))
      assert.strictEqual(recorder.sampleCount(0), 300)
      assert.strictEqual(recorder.sampleCount(1), 450)
      assert.strictEqual(recorder.bytesWritten, 48 + 300 * 1000 + 450 * 10)
      assert.approximately(recorder.trackDurationSeconds(0), 10, 0.001)
      assert.strictEqual(recorder.trackDurationSeconds(1), (450 * 1024) / 48000)
      assert.approximately(recorder.durationSeconds, 10, 0.001)
      assert.isAtMost(recorder.tableBytes / 750, 16, "short recordings pay per sample too, not per block")
      yield* recorder.abort()
    }))

  it.effect("keeps at most 16 bytes of sample table per sample over an hour of 1080p30 + AAC", () =>
    Effect.gen(function*() {
      const recorder = yield* openAt("hour.tmp", [video, audio])
      const data = new Uint8Array(1)
      const videoFrames = 3600 * 30
      const audioFrames = Math.floor((3600 * 48000) / 1024)
      let a = 0
      for (let v = 0; v < videoFrames; v++) {
        const t = Math.round((v * 1000) / 30)
        recorder.push(0, { kind: "video", dts: t, pts: t + 66, keyframe: v % 60 === 0, data })
        for (; a < audioFrames && (a * 1024000) / 48000 <= t; a++) {
          recorder.push(1, { kind: "audio", dts: Math.round((a * 1024000) / 48000), pts: 0, keyframe: true, data })
        }
      }
      const samples = recorder.sampleCount(0) + recorder.sampleCount(1)
      assert.strictEqual(samples, videoFrames + a)
      assert.isAtMost(recorder.tableBytes / samples, 16)
      yield* recorder.abort()
    }))
})

const chromium = "/usr/bin/chromium"

describe("Mp4Recorder output in a browser", () => {
  it.effect("Chromium seeks into the recording and shows the source's picture", () =>
    Effect.gen(function*() {
      const media = coreMedia(source("bf2.mp4"), { milliseconds: true })
      const info = yield* record(media, "browser", {})
      const page = path.join(dir, "seek.html")
      fs.writeFileSync(page, `<html><body><video id=v muted preload=auto></video><div id=r>pending</div><script>
const v = document.getElementById("v"), r = document.getElementById("r")
v.src = location.hash.slice(1)
v.onerror = () => { r.textContent = "error " + v.error.code }
v.onloadedmetadata = () => { v.currentTime = 3.5 }
// A seek can report before the frame is painted on a loaded machine: poll until the picture shows.
let tries = 0
const draw = () => {
  const c = document.createElement("canvas"); c.width = v.videoWidth; c.height = v.videoHeight
  const g = c.getContext("2d"); g.drawImage(v, 0, 0)
  const d = g.getImageData(0, 0, c.width, c.height).data; let sum = 0
  for (let i = 0; i < d.length; i += 4) sum += d[i] + d[i + 1] + d[i + 2]
  const luma = Math.round(sum / (d.length / 4))
  if (luma === 0 && ++tries < 50) return setTimeout(draw, 100)
  r.textContent = "seeked " + v.duration.toFixed(2) + " " + v.videoWidth + "x" + v.videoHeight + " " + luma
}
v.onseeked = draw
</script></body></html>`)
      const look = (file: string) => {
        const result = spawnSync(chromium, [
          "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
          "--allow-file-access-from-files",
          "--virtual-time-budget=20000", "--dump-dom", `file://${page}#${file}`
        ], { encoding: "utf8", timeout: 60_000 })
        return /<div id="r">([^<]*)/.exec(result.stdout)?.[1] ?? result.stderr
      }
      const seen = look(info.path)
      const [, duration, size, luma] = seen.split(" ")
      assert.match(seen, /^seeked /)
      assert.approximately(Number(duration), 4, 0.1)
      assert.strictEqual(size, "640x360")
      assert.isAbove(Number(luma), 0, "a decoded picture, not a black canvas")
      assert.strictEqual(luma, look(source("bf2.mp4")).split(" ")[3], "same picture as the source at 3.5 s")
    }))
})
