import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { afterAll, beforeAll } from "vitest"
import { Mp4Recorder, recoverMp4 } from "../src/containers/isobmff/index.ts"
import { coreMedia, countFrames, decodeErrors, packets, probe, topLevelBoxes } from "./support/ffprobe.ts"

let dir = ""
let src = ""

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "capstan-recover-"))
  src = path.join(dir, "src.mp4")
  const result = spawnSync("ffmpeg", [
    "-nostdin", "-v", "error", "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=30", "-f", "lavfi", "-i", "sine",
    "-t", "4", "-c:v", "libx264", "-g", "30", "-bf", "2", "-c:a", "aac", src
  ], { timeout: 60_000 })
  if (result.status !== 0) throw new Error(String(result.stderr))
})

afterAll(() => fs.rmSync(dir, { recursive: true, force: true }))

/**
 * Records the first `share` of the source's frames and then stops as a crashed process would: no finalize, no
 * flush. Every write of the recorder is a synchronous syscall, so the files hold exactly what a SIGKILL would
 * leave. Returns the per-track counts the recorder says are journaled, and what was pushed.
 */
const crash = (name: string, share: number) =>
  Effect.gen(function*() {
    const media = coreMedia(src, { milliseconds: true })
    const tmpPath = path.join(dir, `${name}.mp4.tmp`)
    const recorder = yield* Mp4Recorder.open({ tmpPath, tracks: media.tracks, creationTime: 0 })
    const pushed = media.tracks.map(() => 0)
    for (const { track, frame } of media.frames.slice(0, Math.floor(media.frames.length * share))) {
      assert.isUndefined(recorder.push(track, frame))
      pushed[track]!++
    }
    const journaled = media.tracks.map((_, i) => recorder.journaledSampleCount(i))
    return { media, tmpPath, pushed, journaled }
  })

/** Packet pts in decode order for one stream. */
const ptsOf = (file: string, stream: number) => packets(file, stream).filter((p) => !p.discard).map((p) => p.pts)

describe("recoverMp4", () => {
  it.effect("rebuilds a playable file holding everything up to the last journal flush", () =>
    Effect.gen(function*() {
      const { tmpPath, pushed, journaled } = yield* crash("crash", 0.7)
      journaled.forEach((n, i) => {
        assert.isAbove(n, 0)
        assert.isAtMost(n, pushed[i]!)
        assert.isAtLeast(n, pushed[i]! - (i === 0 ? 16 : 23), "at most the ~0.5 s interleave buffer is lost")
      })
      const finalPath = path.join(dir, "recovered.mp4")
      const info = yield* recoverMp4({ tmpPath, finalPath })
      assert.deepStrictEqual(topLevelBoxes(finalPath).map((b) => b.type), ["ftyp", "moov", "mdat"])
      assert.strictEqual(decodeErrors(finalPath), "")
      assert.deepStrictEqual([countFrames(finalPath, 0), countFrames(finalPath, 1)], journaled)
      assert.deepStrictEqual(info.tracks.map((t) => t.samples), journaled)
      // The recovered frames are the source's first frames, in the same presentation order.
      const source = ptsOf(src, 0).slice(0, journaled[0])
      const recovered = ptsOf(finalPath, 0)
      const rank = (xs: ReadonlyArray<number>) => xs.map((x) => xs.filter((y) => y < x).length)
      assert.deepStrictEqual(rank(recovered), rank(source))
      assert.isFalse(fs.existsSync(tmpPath))
      assert.isFalse(fs.existsSync(`${tmpPath}.idx`))
    }))

  it.effect("drops a chunk torn by the crash, in the data file or in the journal", () =>
    Effect.gen(function*() {
      // A whole recovery, moov last, keeps every chunk at its data-file offset: ffprobe's packet positions
      // then show where the chunks are, independently of our journal reader.
      const whole = yield* crash("whole", 0.6)
      const wholePath = path.join(dir, "whole.mp4")
      yield* recoverMp4({ tmpPath: whole.tmpPath, finalPath: wholePath, moovFirst: false })
      const positions = [0, 1]
        .flatMap((stream) => packets(wholePath, stream).map((p) => ({ stream, pos: p.pos, size: p.size })))
        .sort((a, b) => a.pos - b.pos)
      const last = positions.at(-1)!
      let firstOfLastChunk = positions.length - 1
      while (firstOfLastChunk > 0 && positions[firstOfLastChunk - 1]!.stream === last.stream) firstOfLastChunk--
      const lastChunk = positions.slice(firstOfLastChunk)
      const lastChunkStart = lastChunk[0]!.pos
      const expected = whole.journaled.map((n, stream) => stream === last.stream ? n - lastChunk.length : n)

      // The data file cut in the middle of its last chunk.
      const torn = yield* crash("torn-data", 0.6)
      assert.deepStrictEqual(torn.journaled, whole.journaled)
      fs.truncateSync(torn.tmpPath, lastChunkStart + Math.floor((last.pos + last.size - lastChunkStart) / 2))
      const tornPath = path.join(dir, "torn-data.mp4")
      yield* recoverMp4({ tmpPath: torn.tmpPath, finalPath: tornPath })
      assert.deepStrictEqual([countFrames(tornPath, 0), countFrames(tornPath, 1)], expected)
      assert.strictEqual(decodeErrors(tornPath), "")

      // The journal cut inside its last record.
      const cut = yield* crash("torn-journal", 0.6)
      const idx = `${cut.tmpPath}.idx`
      fs.truncateSync(idx, fs.statSync(idx).size - 5)
      const cutPath = path.join(dir, "torn-journal.mp4")
      yield* recoverMp4({ tmpPath: cut.tmpPath, finalPath: cutPath, moovFirst: false })
      assert.deepStrictEqual([countFrames(cutPath, 0), countFrames(cutPath, 1)], expected)
      assert.strictEqual(decodeErrors(cutPath), "")
      assert.approximately(Number(probe(cutPath).format.duration), Number(probe(tornPath).format.duration), 0.001)
    }))

  it.effect("fails with NoSamples when the crash came before the first chunk, and Io without leftovers", () =>
    Effect.gen(function*() {
      const early = yield* crash("early", 0.01)
      assert.deepStrictEqual(early.journaled, [0, 0])
      const error = yield* Effect.flip(recoverMp4({ tmpPath: early.tmpPath, finalPath: path.join(dir, "early.mp4") }))
      assert.strictEqual(error.reason, "NoSamples")
      assert.isFalse(fs.existsSync(path.join(dir, "early.mp4")))
      const none = { tmpPath: path.join(dir, "none.tmp"), finalPath: path.join(dir, "none.mp4") }
      const missing = yield* Effect.flip(recoverMp4(none))
      assert.strictEqual(missing.reason, "Io")
    }))
})
