/**
 * Costs of the MP4 header modes (reserved moov, header on the fly, split header file): how long a 2 MB reservation
 * lasts, what building a header costs on the event loop, what an update costs off it, push and finalize throughput.
 * Run: `npx node bench/mp4-header-modes.ts`.
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { Effect } from "effect"
import { Mp4Recorder, type Mp4HeaderMode } from "../src/containers/isobmff/index.ts"
import { type RecordedMedia, type RecordedTrack, reservedMoov, splitHeader } from "../src/containers/isobmff/recorded-media.ts"
import { sampleTableFor } from "../src/containers/isobmff/track-recording.ts"
import { dataFileHeader } from "../src/containers/isobmff/data-layout.ts"
import { replaceHeaderFile } from "../src/containers/isobmff/header-updates.ts"
import { writeRegion } from "../src/containers/isobmff/reserved-region.ts"
import type { AudioTrack, VideoTrack } from "../src/media/frame.ts"

const FPS = 30
const AUDIO_RATE = 44100
const SPS = Buffer.from("67640028acd940780227e5c044000003000400000300c83c60c658", "hex")
const PPS = Buffer.from("68ebe3cb22c0", "hex")
const AVCC = Buffer.concat([
  Buffer.from([1, SPS[1]!, SPS[2]!, SPS[3]!, 0xff, 0xe1, 0, SPS.length]), SPS, Buffer.from([1, 0, PPS.length]), PPS
])
const video: VideoTrack = { kind: "video", codec: "H264", timescale: 1000, width: 1920, height: 1080, config: AVCC }
const audio: AudioTrack = {
  kind: "audio", codec: "AAC", timescale: 1000, sampleRate: AUDIO_RATE, channels: 2, config: Uint8Array.of(0x12, 0x10)
}

/** RTMP-like packets: ms timestamps, keyframe every 2 s, B-frames (composition offsets cycling 2,0,1 frames). */
function* packets(seconds: number, realistic: boolean, bFrames = true) {
  // Sizes vary as an encoder's do (a constant size would let stsz store one value instead of a table).
  const keys = [0, 1, 2, 3, 4, 5, 6].map((i) => new Uint8Array((realistic ? 150_000 : 64) + i))
  const deltas = [0, 1, 2, 3, 4, 5, 6].map((i) => new Uint8Array((realistic ? 10_000 : 32) + i))
  const aacs = [0, 1, 2, 3, 4, 5, 6].map((i) => new Uint8Array((realistic ? 371 : 16) + i))
  let a = 0
  for (let v = 0; v < seconds * FPS; v++) {
    const t = Math.round((v * 1000) / FPS)
    for (; Math.round((a * 1024 * 1000) / AUDIO_RATE) <= t; a++) {
      const at = Math.round((a * 1024 * 1000) / AUDIO_RATE)
      yield { track: 1, frame: { kind: "audio" as const, dts: at, pts: at, keyframe: true, data: aacs[a % 7]! } }
    }
    const keyframe = v % (2 * FPS) === 0
    const pts = t + (bFrames ? [66, 0, 33][v % 3]! : 0)
    const data = keyframe ? keys[v % 7]! : deltas[v % 7]!
    yield { track: 0, frame: { kind: "video" as const, dts: t, pts, keyframe, data } }
  }
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "capstan-header-bench-"))
const run = <A, E>(effect: Effect.Effect<A, E>) => Effect.runPromise(effect)

/** Minutes of 1080p30 + AAC until a 2048 KB reservation asks for rotation, and how full the moov then is. */
const reservationLasts = async (bFrames: boolean) => {
  const reservedBytes = 2048 * 1024
  const tmpPath = path.join(dir, "fill.tmp")
  const recorder = await run(Mp4Recorder.open({
    tmpPath, tracks: [video, audio], creationTime: Date.now(), header: { _tag: "Reserved", reservedBytes }
  }))
  let seconds = 0
  for (const { track, frame } of packets(3 * 3600, false, bFrames)) {
    if (frame.kind === "video" && frame.keyframe && recorder.headerFull()) {
      seconds = frame.dts / 1000
      break
    }
    recorder.push(track, frame)
  }
  const info = await run(recorder.finalize({ finalPath: path.join(dir, "fill.mp4") }))
  const moov = fs.readFileSync(info.path).readUInt32BE(32)
  fs.rmSync(info.path)
  return { minutes: seconds / 60, moovKB: moov / 1024, fill: moov / reservedBytes }
}

/** Tables of `seconds` of the stream, as recovery would rebuild them, for timing header builds. */
const tablesOf = (seconds: number): RecordedMedia => {
  const v = sampleTableFor(video)
  const a = sampleTableFor(audio)
  let vc = 0
  let ac = 0
  let offset = 48
  for (const { track, frame } of packets(seconds, false)) {
    const table = track === 0 ? v : a
    const scale = track === 0 ? 90 : AUDIO_RATE / 1000
    table.add(frame.data.length, Math.round(frame.dts * scale), Math.round((frame.pts - frame.dts) * scale),
      frame.keyframe)
    if (track === 0 && table.sampleCount % 15 === 0) {
      v.addChunk(offset, v.sampleCount - vc)
      vc = v.sampleCount
      offset += 200_000
      a.addChunk(offset, a.sampleCount - ac)
      ac = a.sampleCount
      offset += 10_000
    }
  }
  const tracks: Array<RecordedTrack> = [
    { track: video, mediaTimescale: 90000, samples: v, presentationStart: 0, startOffset: undefined },
    { track: audio, mediaTimescale: AUDIO_RATE, samples: a, presentationStart: 0, startOffset: undefined }
  ]
  return { tmpPath: "", layout: { _tag: "Split" }, dataEnd: offset, creationTime: Date.now(), movieTimescale: 1000,
    tracks }
}

const median = (xs: Array<number>) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)]!

const buildTime = (media: RecordedMedia, build: (m: RecordedMedia) => Uint8Array) => {
  const times: Array<number> = []
  let bytes = 0
  for (let i = 0; i < 9; i++) {
    const t = performance.now()
    bytes = build(media).length
    times.push(performance.now() - t)
  }
  return { ms: median(times), kB: bytes / 1024 }
}

/** 5 min of 3 Mbit/s media through a mode: push rate, update job wall time (awaited, as pacing would), finalize. */
const throughput = async (name: string, header: Mp4HeaderMode, moovFirst = true) => {
  const tmpPath = path.join(dir, `.${name}_1.mp4.tmp`)
  const recorder = await run(Mp4Recorder.open({ tmpPath, tracks: [video, audio], creationTime: Date.now(), header }))
  let pushMs = 0
  let waitMs = 0
  let bytes = 0
  let count = 0
  for (const { track, frame } of packets(300, true)) {
    const t = performance.now()
    const error = recorder.push(track, frame)
    if (error !== undefined) throw error
    const pushed = performance.now()
    pushMs += pushed - t
    await run(recorder.headerSettled)
    waitMs += performance.now() - pushed
    bytes += frame.data.length
    count++
  }
  const t = performance.now()
  await run(recorder.finalize({ finalPath: path.join(dir, `${name}.mp4`), moovFirst }))
  const finalizeMs = performance.now() - t
  fs.rmSync(path.join(dir, `${name}.mp4`))
  return {
    mode: name,
    packetsPerSecond: Math.round(count / (pushMs / 1000)),
    pushMs: Math.round(pushMs),
    pushMBps: Math.round(bytes / 1e6 / (pushMs / 1000)),
    updates: recorder.headerUpdates,
    updateMs: recorder.headerUpdates > 0 ? +(waitMs / recorder.headerUpdates).toFixed(1) : 0,
    finalizeMs: Math.round(finalizeMs)
  }
}

const main = async () => {
  console.log("2048 KB reservation, B-frames:", await reservationLasts(true))
  console.log("2048 KB reservation, no B-frames:", await reservationLasts(false))
  for (const minutes of [5, 22, 60]) {
    const media = tablesOf(minutes * 60)
    const moov = reservedMoov(media)
    const header = splitHeader(media)
    // The writes of one update, off the event loop: region + 3 fdatasyncs, or header file + fsync + rename.
    const reservedBytes = Math.ceil((moov.length + 8) / 1024 / 1024) * 1024 * 1024
    const file = path.join(dir, "region.mp4")
    fs.writeFileSync(file, dataFileHeader({ _tag: "Reserved", reservedBytes }))
    const fd = fs.openSync(file, "r+")
    const writes: Array<number> = []
    const renames: Array<number> = []
    for (let i = 0; i < 5; i++) {
      let t = performance.now()
      await run(writeRegion(fd, file, moov, reservedBytes))
      writes.push(performance.now() - t)
      t = performance.now()
      await run(replaceHeaderFile(path.join(dir, "x.header"), header))
      renames.push(performance.now() - t)
    }
    fs.closeSync(fd)
    console.log(`${minutes} min: reserved moov build`, buildTime(media, (m) => reservedMoov(m)),
      `region write (${reservedBytes / 1024 / 1024} MB region) ms`, median(writes).toFixed(1),
      "split header build", buildTime(media, splitHeader), "header file replace ms", median(renames).toFixed(1))
  }
  console.log(await throughput("plain", { _tag: "AtFinalize" }))
  console.log(await throughput("plain-last", { _tag: "AtFinalize" }, false))
  console.log(await throughput("reserved", { _tag: "Reserved", reservedBytes: 2048 * 1024 }))
  console.log(await throughput("reserved-onfly", { _tag: "Reserved", reservedBytes: 2048 * 1024, updateSeconds: 5 }))
  console.log(await throughput("split-onfly", { _tag: "Split", updateSeconds: 5 }))
  fs.rmSync(dir, { recursive: true, force: true })
}

main()
