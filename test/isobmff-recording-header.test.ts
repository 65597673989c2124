import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { createFile, MP4BoxBuffer } from "mp4box"
import { afterAll, beforeAll } from "vitest"
import { Mp4Recorder, type Mp4HeaderMode } from "../src/containers/isobmff/index.ts"
import { mp4Format, mp4HeaderModeOf } from "../src/containers/mp4-format.ts"
import type { AudioTrack, Frame, VideoTrack } from "../src/media/frame.ts"
import { type CoreMedia, coreMedia, decodeErrors, packets, probe, topLevelBoxes } from "./support/ffprobe.ts"

let dir = ""
let src = ""
let media: CoreMedia

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "capstan-header-"))
  src = path.join(dir, "src.mp4")
  const result = spawnSync("ffmpeg", [
    "-nostdin", "-v", "error", "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=30", "-f", "lavfi", "-i",
    "sine=frequency=440:sample_rate=44100", "-t", "6", "-c:v", "libx264", "-g", "30", "-bf", "2", "-c:a", "aac", src
  ], { timeout: 60_000 })
  if (result.status !== 0) throw new Error(String(result.stderr))
  media = coreMedia(src, { milliseconds: true })
})

afterAll(() => fs.rmSync(dir, { recursive: true, force: true }))

/** Packets ffprobe finds in every stream of `file`: what its moov references. */
const packetCount = (file: string) => probe(file).streams.reduce((sum, _, i) => sum + packets(file, i).length, 0)

const sourceFrames = () => media.frames.length

/** Opens a recorder on the source's tracks and pushes its first `share` of frames, waiting out header updates as a
 * live stream's pacing would let them finish. */
const recordShare = (name: string, header: Mp4HeaderMode, share: number) =>
  Effect.gen(function*() {
    const tmpPath = path.join(dir, `.${name}_1.mp4.tmp`)
    const recorder = yield* Mp4Recorder.open({
      tmpPath,
      tracks: media.tracks,
      creationTime: Date.UTC(2026, 0, 2),
      header,
      streamName: name
    })
    const count = Math.floor(media.frames.length * share)
    for (const { track, frame } of media.frames.slice(0, count)) {
      assert.isUndefined(recorder.push(track, frame))
      yield* recorder.headerSettled
    }
    yield* recorder.headerSettled
    return { recorder, tmpPath, pushed: count }
  })

const mp4boxSamples = (file: string): Array<number> => {
  const bytes = fs.readFileSync(file)
  const parsed = createFile()
  let samples: Array<number> = []
  parsed.onReady = (info: any) => (samples = info.tracks.map((t: any) => t.nb_samples))
  const copy = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length)
  parsed.appendBuffer(MP4BoxBuffer.fromArrayBuffer(copy, 0))
  parsed.flush()
  return samples
}

describe("reserved moov (mp4_container_moov_first_reserve_space)", () => {
  it.effect("ftyp, moov in the reservation, free, mdat: plays whole, not below the reservation, not copied", () =>
    Effect.gen(function*() {
      const reservedBytes = 256 * 1024
      const { recorder, tmpPath } = yield* recordShare("reserved", { _tag: "Reserved", reservedBytes }, 1)
      const inode = fs.statSync(tmpPath).ino
      const info = yield* recorder.finalize({ finalPath: path.join(dir, "reserved.mp4") })
      assert.isTrue(info.moovFirst)
      assert.strictEqual(fs.statSync(info.path).ino, inode, "finalized in place and renamed: the media was not copied")
      assert.isAtLeast(info.bytes, 32 + reservedBytes)
      assert.strictEqual(fs.statSync(info.path).size, info.bytes)
      const boxes = topLevelBoxes(info.path)
      assert.deepStrictEqual(boxes.map((b) => b.type), ["ftyp", "moov", "free", "free", "mdat"])
      assert.strictEqual(boxes[1]!.size + boxes[2]!.size, reservedBytes, "moov + free fill the reservation")
      assert.strictEqual(packetCount(info.path), sourceFrames())
      assert.strictEqual(mp4boxSamples(info.path).reduce((a, b) => a + b, 0), sourceFrames())
      assert.strictEqual(decodeErrors(info.path), "")
      assert.approximately(Number(probe(info.path).format.duration), 6, 0.1)
      assert.deepStrictEqual(fs.readdirSync(dir).filter((f) => f.startsWith(".reserved")), [])
    }))

  it.effect("a recording much shorter than the reservation still has the reservation's size", () =>
    Effect.gen(function*() {
      const reservedBytes = 2048 * 1024
      const { recorder } = yield* recordShare("short", { _tag: "Reserved", reservedBytes }, 0.1)
      const info = yield* recorder.finalize({ finalPath: path.join(dir, "short.mp4") })
      assert.isAtLeast(fs.statSync(info.path).size, reservedBytes)
      assert.strictEqual(decodeErrors(info.path), "")
    }))
})

const avcC = Uint8Array.of(1, 0x64, 0, 0x1e, 0xff, 0xe0, 0)
const video: VideoTrack = { kind: "video", codec: "H264", timescale: 1000, width: 64, height: 64, config: avcC }
const audio: AudioTrack = {
  kind: "audio",
  codec: "AAC",
  timescale: 1000,
  sampleRate: 48000,
  channels: 2,
  config: Uint8Array.of(0x11, 0x90)
}

/** Synthetic 30 fps video with a keyframe every `gop` frames, B-frame-like pts jitter, and 48 kHz AAC frames. */
function* synthetic(seconds: number, gop: number): Generator<{ track: number; frame: Frame }> {
  let a = 0
  for (let v = 0; v < seconds * 30; v++) {
    const dts = Math.round((v * 1000) / 30)
    const pts = dts + [66, 0, 33][v % 3]!
    yield { track: 0, frame: { kind: "video", dts, pts, keyframe: v % gop === 0, data: new Uint8Array(40 + (v % 7)) } }
    for (; (a * 1024000) / 48000 <= dts; a++) {
      const t = Math.round((a * 1024000) / 48000)
      yield { track: 1, frame: { kind: "audio", dts: t, pts: t, keyframe: true, data: new Uint8Array(10 + (a % 3)) } }
    }
  }
}

describe("rotation by MP4 header filling", () => {
  it.effect("an 8 KB reservation asks for rotation at a keyframe before the moov outgrows it", () =>
    Effect.gen(function*() {
      const reservedBytes = 8 * 1024
      const header: Mp4HeaderMode = { _tag: "Reserved", reservedBytes }
      const open = (n: number) =>
        Mp4Recorder.open({ tmpPath: path.join(dir, `rot-${n}.tmp`), tracks: [video, audio], creationTime: 0, header })
      const files: Array<{ path: string; moovFirst: boolean; samples: number }> = []
      let recorder = yield* open(0)
      let samples = 0
      for (const { track, frame } of synthetic(30, 15)) {
        if (frame.kind === "video" && frame.keyframe && samples > 0 && recorder.headerFull()) {
          const info = yield* recorder.finalize({ finalPath: path.join(dir, `rot-${files.length}.mp4`) })
          files.push({ path: info.path, moovFirst: info.moovFirst, samples })
          recorder = yield* open(files.length)
          samples = 0
        }
        assert.isUndefined(recorder.push(track, frame))
        samples++
      }
      const last = yield* recorder.finalize({ finalPath: path.join(dir, `rot-${files.length}.mp4`) })
      files.push({ path: last.path, moovFirst: last.moovFirst, samples })
      assert.isAtLeast(files.length, 3, "30 s do not fit one 8 KB moov")
      for (const file of files) {
        const boxes = topLevelBoxes(file.path)
        assert.isTrue(file.moovFirst, `${file.path}: the moov fit its reservation`)
        assert.deepStrictEqual(boxes.map((b) => b.type).slice(0, 2), ["ftyp", "moov"])
        assert.isAtMost(boxes[1]!.size, reservedBytes)
        assert.strictEqual(packetCount(file.path), file.samples)
      }
      const fill = files.slice(0, -1).map((f) => topLevelBoxes(f.path)[1]!.size / reservedBytes)
      assert.isAtLeast(Math.min(...fill), 0.5, "the bound is conservative, not wasteful: rotation uses the space")
    }))

  it.effect("a moov that outgrows its reservation anyway goes after the mdat and the file still plays", () =>
    Effect.gen(function*() {
      const header: Mp4HeaderMode = { _tag: "Reserved", reservedBytes: 4096 }
      const tmpPath = path.join(dir, "overflow.tmp")
      const recorder = yield* Mp4Recorder.open({ tmpPath, tracks: [video, audio], creationTime: 0, header })
      let pushed = 0
      for (const { track, frame } of synthetic(20, 30)) pushed += recorder.push(track, frame) === undefined ? 1 : 0
      assert.isTrue(recorder.headerFull())
      const info = yield* recorder.finalize({ finalPath: path.join(dir, "overflow.mp4") })
      assert.isFalse(info.moovFirst)
      assert.deepStrictEqual(topLevelBoxes(info.path).map((b) => b.type), ["ftyp", "free", "free", "mdat", "moov"])
      assert.strictEqual(packetCount(info.path), pushed)
    }))

  it.effect("the MP4 ContainerFormat exposes headerFull, from the config's header settings", () =>
    Effect.gen(function*() {
    const settings = { reserveSpace: true, reservedKilobytes: 8, headerOnFly: false, headerOnFlySeconds: 5 }
    const header = mp4HeaderModeOf(settings)
    assert.deepStrictEqual(header, { _tag: "Reserved", reservedBytes: 8192, updateSeconds: undefined })
    const writer = mp4Format({ moovFirst: true, header }).open({
      tmpPath: path.join(dir, "format.tmp"),
      tracks: [video, audio],
      creationTime: new Date(0),
      streamName: "s"
    })
    if (!("push" in writer)) throw new Error(writer.message)
    let full = false
    for (const { track, frame } of synthetic(60, 15)) {
      if (frame.kind === "video" && frame.keyframe && writer.headerFull?.()) {
        full = true
        break
      }
      assert.isUndefined(writer.push(track, frame))
    }
    assert.isTrue(full)
    yield* writer.abort()
    assert.deepStrictEqual(
      [true, false].flatMap((reserveSpace) =>
        [true, false].map((headerOnFly) =>
          mp4HeaderModeOf({ reserveSpace, reservedKilobytes: 2048, headerOnFly, headerOnFlySeconds: 5 })._tag
        )
      ),
      ["Reserved", "Reserved", "Split", "AtFinalize"]
    )
  }))
})

describe("header on the fly with a reservation", () => {
  it.effect("a copy taken mid-recording (a crash) plays the frames of the last header update", () =>
    Effect.gen(function*() {
      const header: Mp4HeaderMode = { _tag: "Reserved", reservedBytes: 512 * 1024, updateSeconds: 1 }
      const { recorder, tmpPath, pushed } = yield* recordShare("onfly", header, 0.6)
      assert.isAtLeast(recorder.headerUpdates, 2)
      const covered = recorder.headerSamples
      assert.isAbove(covered, pushed * 0.6, "at most about one interval behind")
      assert.isAtMost(covered, pushed)
      const copy = path.join(dir, "onfly-crash.mp4")
      fs.copyFileSync(tmpPath, copy)
      assert.strictEqual(packetCount(copy), covered)
      assert.strictEqual(decodeErrors(copy), "")
      assert.deepStrictEqual(topLevelBoxes(copy).map((b) => b.type), ["ftyp", "moov", "free", "free", "mdat"])
      const info = yield* recorder.finalize({ finalPath: path.join(dir, "onfly.mp4") })
      assert.strictEqual(packetCount(info.path), pushed)
      assert.strictEqual(decodeErrors(info.path), "")
    }))

  it.effect("updates once per interval of media time", () =>
    Effect.gen(function*() {
      const header: Mp4HeaderMode = { _tag: "Reserved", reservedBytes: 64 * 1024, updateSeconds: 0.5 }
      const recorder = yield* Mp4Recorder.open({
        tmpPath: path.join(dir, "interval.tmp"),
        tracks: [video, audio],
        creationTime: 0,
        header
      })
      for (const { track, frame } of synthetic(10, 30)) {
        recorder.push(track, frame)
        yield* recorder.headerSettled
      }
      // The first update is due half a second after the first frame, then every half second up to 9.97 s.
      assert.strictEqual(recorder.headerUpdates, 19)
      yield* recorder.abort()
    }))
})

describe("header on the fly without a reservation: NAME.mp4.header + NAME.mp4.tmp", () => {
  it.effect("`cat NAME.header NAME.tmp` plays; finalize concatenates them and removes the pair", () =>
    Effect.gen(function*() {
      const { recorder, tmpPath, pushed } = yield* recordShare("split", { _tag: "Split", updateSeconds: 1 }, 0.6)
      const headerPath = path.join(dir, ".split_1.mp4.header")
      assert.strictEqual(recorder.headerPath, headerPath)
      assert.isTrue(fs.existsSync(headerPath))
      assert.deepStrictEqual(topLevelBoxes(headerPath).map((b) => b.type), ["ftyp", "moov"])
      const joined = path.join(dir, "split-cat.mp4")
      const cat = spawnSync("sh", ["-c", `cat "${headerPath}" "${tmpPath}" > "${joined}"`])
      assert.strictEqual(cat.status, 0)
      const covered = recorder.headerSamples
      assert.isAbove(covered, pushed * 0.6)
      assert.strictEqual(packetCount(joined), covered)
      assert.strictEqual(decodeErrors(joined), "")
      const info = yield* recorder.finalize({ finalPath: path.join(dir, "split.mp4") })
      assert.deepStrictEqual(topLevelBoxes(info.path).map((b) => b.type), ["ftyp", "moov", "mdat"])
      assert.strictEqual(packetCount(info.path), pushed)
      assert.strictEqual(decodeErrors(info.path), "")
      assert.deepStrictEqual(fs.readdirSync(dir).filter((f) => f.startsWith(".split")), [])
    }))

  it.effect("moov last when mp4_container_moov_first=false", () =>
    Effect.gen(function*() {
      const { recorder, pushed } = yield* recordShare("split-last", { _tag: "Split", updateSeconds: 2 }, 1)
      const info = yield* recorder.finalize({ finalPath: path.join(dir, "split-last.mp4"), moovFirst: false })
      assert.deepStrictEqual(topLevelBoxes(info.path).map((b) => b.type), ["ftyp", "free", "mdat", "moov"])
      assert.strictEqual(packetCount(info.path), pushed)
      assert.strictEqual(decodeErrors(info.path), "")
    }))
})
