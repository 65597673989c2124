/**
 * The MP4 index reader (src/containers/isobmff/mp4-index.ts) against ffprobe's packets and mp4box's edit lists:
 * moov before or after the mdat, co64 with a 64-bit mdat size, a moov with a 64-bit header, an mdat sized 0 (to
 * the end of the file). It reads the box headers and the moov, never a byte of media.
 */
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as fsp from "node:fs/promises"
import * as os from "node:os"
import * as path from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { createFile, MP4BoxBuffer } from "mp4box"
import { afterAll, beforeAll } from "vitest"
import { Mp4Recorder } from "../src/containers/isobmff/index.ts"
import { cutMp4 } from "../src/containers/isobmff/mp4-cut.ts"
import { readMp4Index, readMp4IndexFrom } from "../src/containers/isobmff/mp4-index.ts"
import { coreMedia, decodeErrors, packets, topLevelBoxes } from "./support/ffprobe.ts"

let dir = ""
const file = (name: string) => path.join(dir, name)

const ffmpeg = (args: ReadonlyArray<string>) => {
  const result = spawnSync("ffmpeg", ["-nostdin", "-v", "error", "-y", ...args], { timeout: 120_000 })
  if (result.status !== 0) throw new Error(`ffmpeg ${args.join(" ")}: ${result.stderr}`)
}

const SOURCE = [
  "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25", "-f", "lavfi", "-i", "sine=frequency=500:sample_rate=48000",
  "-t", "4", "-c:v", "libx264", "-preset", "veryfast", "-g", "50", "-bf", "3", "-c:a", "aac"
]

/** `src` (moov last) with its moov header rewritten in the 64-bit form (size 1, largesize): no media moves. */
const withLargeMoovHeader = (src: string, out: string) => {
  const bytes = fs.readFileSync(src)
  const moov = topLevelBoxes(src).find((b) => b.type === "moov")!
  assert.strictEqual(moov.offset + moov.size, bytes.length, "the moov is last")
  const header = Buffer.alloc(16)
  header.writeUInt32BE(1, 0)
  header.write("moov", 4, "latin1")
  header.writeBigUInt64BE(BigInt(moov.size + 8), 8)
  fs.writeFileSync(out, Buffer.concat([bytes.subarray(0, moov.offset), header, bytes.subarray(moov.offset + 8)]))
}

/** `src` (moov first) with the mdat's size set to 0, which means "to the end of the file" (4.2). */
const withOpenEndedMdat = (src: string, out: string) => {
  const bytes = Buffer.from(fs.readFileSync(src))
  const mdat = topLevelBoxes(src).find((b) => b.type === "mdat")!
  assert.strictEqual(mdat.offset + mdat.size, bytes.length, "the mdat is last")
  bytes.writeUInt32BE(0, mdat.offset)
  fs.writeFileSync(out, bytes)
}

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "capstan-mp4-index-"))
  ffmpeg([...SOURCE, file("moov-last.mp4")])
  ffmpeg([...SOURCE, "-movflags", "+faststart", file("moov-first.mp4")])
  withLargeMoovHeader(file("moov-last.mp4"), file("large-moov-header.mp4"))
  withOpenEndedMdat(file("moov-first.mp4"), file("open-mdat.mp4"))
  const media = coreMedia(file("moov-last.mp4"))
  const tmpPath = file("ours.tmp")
  await Effect.runPromise(Effect.gen(function*() {
    const recorder = yield* Mp4Recorder.open({ tmpPath, tracks: media.tracks, creationTime: Date.UTC(2026, 0, 2) })
    for (const { track, frame } of media.frames) recorder.push(track, frame)
    yield* recorder.finalize({ finalPath: file("ours-co64.mp4"), moovFirst: false, forceLargeOffsets: true })
  }))
})

afterAll(() => fs.rmSync(dir, { recursive: true, force: true }))

/** mp4box.js's edit lists: [segment_duration, media_time] per track. */
const mp4boxEdits = (src: string): Array<Array<[number, number]>> => {
  const bytes = fs.readFileSync(src)
  const parsed = createFile()
  const copy = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length)
  parsed.appendBuffer(MP4BoxBuffer.fromArrayBuffer(copy, 0))
  parsed.flush()
  return ((parsed as any).moov.traks as Array<any>).map((trak) =>
    (trak.edts?.elst.entries ?? []).map((e: any) => [Number(e.segment_duration), Number(e.media_time)])
  )
}

const files = ["moov-last.mp4", "moov-first.mp4", "large-moov-header.mp4", "open-mdat.mp4", "ours-co64.mp4"]

describe("readMp4Index", () => {
  for (const name of files) {
    it.effect(`${name}: every sample's offset, size, times and sync flag as ffprobe sees them`, () =>
      Effect.gen(function*() {
        const index = yield* readMp4Index(file(name))
        assert.deepStrictEqual(index.tracks.map((t) => t.handler), ["vide", "soun"])
        index.tracks.forEach((track, i) => {
          const probed = packets(file(name), i)
          const s = track.samples
          assert.strictEqual(s.count, probed.length, `samples of track ${i}`)
          for (let k = 0; k < s.count; k++) {
            const p = probed[k]!
            assert.strictEqual(s.offsets[k], p.pos, `offset of sample ${k}`)
            assert.strictEqual(s.sizes[k], p.size, `size of sample ${k}`)
            assert.strictEqual(s.dts[k]! - s.dts[0]!, p.dts - probed[0]!.dts, `dts of sample ${k}`)
            assert.strictEqual(s.ctsOffsets === undefined ? 0 : s.ctsOffsets[k], p.pts - p.dts, `cts of ${k}`)
            const sync = s.syncSamples === undefined || s.syncSamples.includes(k)
            assert.strictEqual(sync, p.keyframe, `sync flag of sample ${k}`)
          }
        })
        const edits = mp4boxEdits(file(name))
        index.tracks.forEach((track, i) => {
          assert.deepStrictEqual(track.edits.map((e) => [e.duration, e.mediaTime]), edits[i], `edits of track ${i}`)
        })
      }))
  }

  it.effect("reads box headers, ftyp and moov only: no byte of any mdat payload", () =>
    Effect.gen(function*() {
      for (const name of files) {
        const reads: Array<readonly [number, number]> = []
        const handle = yield* Effect.promise(() => fsp.open(file(name), "r"))
        const spy = new Proxy(handle, {
          get: (target, key) =>
            key === "read"
              ? (buffer: Buffer, offset: number, length: number, position: number) => {
                reads.push([position, length])
                return target.read(buffer, offset, length, position)
              }
              : Reflect.get(target, key).bind?.(target) ?? Reflect.get(target, key)
        })
        const index = yield* readMp4IndexFrom(spy, file(name)).pipe(
          Effect.ensuring(Effect.promise(() => handle.close()))
        )
        const mdat = index.boxes.find((b) => b.type === "mdat")!
        const payloadStart = mdat.offset + 16
        for (const [position, length] of reads) {
          const overlaps = position < mdat.offset + mdat.size && position + length > payloadStart
          assert.isFalse(overlaps, `${name}: read of ${length} bytes at ${position} touches the mdat`)
        }
        const moov = index.boxes.find((b) => b.type === "moov")!
        assert.isAtMost(index.bytesRead, moov.size + 16 * index.boxes.length + (index.ftyp?.length ?? 0))
      }
    }))

  it.effect("files with 64-bit and open-ended box sizes cut and decode", () =>
    Effect.gen(function*() {
      for (const name of ["large-moov-header.mp4", "open-mdat.mp4", "ours-co64.mp4"]) {
        const target = file(`cut-${name}`)
        const result = yield* cutMp4({ source: file(name), target, start: 1.1, end: 3.3 })
        assert.strictEqual(decodeErrors(target), "", name)
        assert.approximately(result.durationSeconds, 3.3 - result.startSeconds, 0.04)
        assert.isBelow(result.sourceBytesRead, fs.statSync(file(name)).size)
      }
    }))
})
