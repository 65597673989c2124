import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { afterAll, beforeAll } from "vitest"
import {
  defaultRecoveredName,
  type LeftoverName,
  recoverFile,
  type RecoveredFile,
  recoverLeftovers
} from "../src/actors/crash-recovery.ts"
import { ByteWriter } from "../src/containers/isobmff/byte-writer.ts"
import { headerPathOf, journalPath, Mp4Recorder, type Mp4HeaderMode } from "../src/containers/isobmff/index.ts"
import { writeFinalizingRecord } from "../src/containers/isobmff/temp-files.ts"
import { type CoreMedia, coreMedia, decodeErrors, packetTotal, probe } from "./support/ffprobe.ts"

let root = ""
let media: CoreMedia

beforeAll(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), "capstan-crash-"))
  const src = path.join(root, "src.mp4")
  const result = spawnSync("ffmpeg", [
    "-nostdin", "-v", "error", "-f", "lavfi", "-i", "testsrc2=size=320x180:rate=30", "-f", "lavfi", "-i", "sine",
    "-t", "3", "-c:v", "libx264", "-g", "30", "-bf", "2", "-c:a", "aac", src
  ], { timeout: 60_000 })
  if (result.status !== 0) throw new Error(String(result.stderr))
  media = coreMedia(src, { milliseconds: true })
})

afterAll(() => fs.rmSync(root, { recursive: true, force: true }))

const dirs = (name: string) => {
  const tmpDir = path.join(root, name, "tmp")
  const recordDir = path.join(root, name, "records")
  fs.mkdirSync(tmpDir, { recursive: true })
  fs.mkdirSync(recordDir, { recursive: true })
  return { tmpDir, recordDir }
}

/** Records 70% of the source into `tmpDir` as media-session.ts names temp files, then stops as if killed. */
const crash = (tmpDir: string, id: string, header: Mp4HeaderMode, streamName = `stream-${id}`) =>
  Effect.gen(function*() {
    const tmpPath = path.join(tmpDir, `.${id}_1.mp4.tmp`)
    const recorder = yield* Mp4Recorder.open({ tmpPath, tracks: media.tracks, creationTime: 0, header, streamName })
    for (const { track, frame } of media.frames.slice(0, Math.floor(media.frames.length * 0.7))) {
      assert.isUndefined(recorder.push(track, frame))
      yield* recorder.headerSettled
    }
    const journaled = media.tracks.reduce((sum, _, i) => sum + recorder.journaledSampleCount(i), 0)
    return { tmpPath, journaled, headerSamples: recorder.headerSamples }
  })

const appendFinalizing = (tmpPath: string, finalPath: string) => {
  const w = new ByteWriter(256)
  writeFinalizingRecord(w, finalPath)
  fs.appendFileSync(journalPath(tmpPath), w.bytes)
}

const plain: Mp4HeaderMode = { _tag: "AtFinalize" }
const reserved: Mp4HeaderMode = { _tag: "Reserved", reservedBytes: 64 * 1024, updateSeconds: 1 }
const split: Mp4HeaderMode = { _tag: "Split", updateSeconds: 1 }

const judge = (file: RecoveredFile, frames: number) => {
  assert.strictEqual(file.frames, frames, `${file.path}: frames`)
  assert.strictEqual(packetTotal(file.path), frames, `${file.path}: ffprobe packets`)
  assert.approximately(Number(probe(file.path).format.duration), file.durationSeconds, 0.05)
  assert.strictEqual(decodeErrors(file.path), "")
}

describe("recoverLeftovers at startup", () => {
  it.effect("recovers every kind of leftover, names the files, removes what it used, quarantines the rest", () =>
    Effect.gen(function*() {
      const { tmpDir, recordDir } = dirs("scan")
      const journal = yield* crash(tmpDir, "plain", plain, "cam1")
      const header = yield* crash(tmpDir, "reserved", reserved)
      fs.rmSync(journalPath(header.tmpPath))
      const pair = yield* crash(tmpDir, "pair", split, "")
      fs.rmSync(journalPath(pair.tmpPath))
      const pairJournal = yield* crash(tmpDir, "pairj", split)
      const orphan = yield* crash(tmpDir, "orphan", plain)
      fs.rmSync(orphan.tmpPath)
      // A finalize that died copying: its journal names the file, a partial part lies in record_dir.
      const interrupted = yield* crash(tmpDir, "interrupted", plain)
      const named = path.join(recordDir, "stream-interrupted-named.mp4")
      appendFinalizing(interrupted.tmpPath, named)
      fs.writeFileSync(`${named}.part`, fs.readFileSync(interrupted.tmpPath).subarray(0, 5000))
      // A finalize that had renamed its file but not removed the temp files yet.
      const finished = yield* crash(tmpDir, "finished", plain)
      const finishedPath = path.join(recordDir, "finished.mp4")
      fs.copyFileSync(path.join(root, "src.mp4"), finishedPath)
      appendFinalizing(finished.tmpPath, finishedPath)
      // Parts without a journal: one whole (renamed to its name), one cut short.
      fs.copyFileSync(path.join(root, "src.mp4"), path.join(recordDir, "whole.mp4.part"))
      const cut = fs.readFileSync(path.join(root, "src.mp4")).subarray(0, 9000)
      fs.writeFileSync(path.join(recordDir, "cut.mp4.part"), cut)
      // A recording that died while opening its files.
      fs.writeFileSync(path.join(tmpDir, ".empty_1.mp4.tmp"), "")
      fs.writeFileSync(path.join(tmpDir, ".empty_1.mp4.tmp.idx"), "")
      // Another writer's temp file and a stranger's file are none of our business.
      fs.writeFileSync(path.join(tmpDir, ".other_1.webm.tmp"), Buffer.from([0x1a, 0x45, 0xdf, 0xa3, 1, 2, 3, 4]))
      fs.writeFileSync(path.join(tmpDir, "notes.txt"), "hello")
      // A name already taken in record_dir.
      fs.writeFileSync(path.join(recordDir, "cam1-plain_1.mp4"), "taken")

      const recovered = yield* recoverLeftovers({ tmpDirs: [tmpDir], recordDir, moovFirst: true })
      const byPath = new Map(recovered.map((r) => [path.basename(r.path), r]))
      assert.deepStrictEqual([...byPath.keys()].sort(), [
        "cam1-plain_1-recovered.mp4",
        "pair_1.mp4",
        "reserved_1.mp4",
        "stream-interrupted-named.mp4",
        "stream-pairj-pairj_1.mp4",
        "whole.mp4"
      ])
      const plainFile = byPath.get("cam1-plain_1-recovered.mp4")!
      assert.deepStrictEqual([plainFile.streamName, plainFile.from], ["cam1", "journal"])
      judge(plainFile, journal.journaled)
      const headerFile = byPath.get("reserved_1.mp4")!
      assert.deepStrictEqual([headerFile.streamName, headerFile.from], ["", "header"])
      judge(headerFile, header.headerSamples)
      judge(byPath.get("pair_1.mp4")!, pair.headerSamples)
      assert.strictEqual(byPath.get("stream-pairj-pairj_1.mp4")!.from, "journal")
      judge(byPath.get("stream-pairj-pairj_1.mp4")!, pairJournal.journaled)
      judge(byPath.get("stream-interrupted-named.mp4")!, interrupted.journaled)
      judge(byPath.get("whole.mp4")!, packetTotal(path.join(root, "src.mp4")))
      assert.strictEqual(fs.readFileSync(path.join(recordDir, "cam1-plain_1.mp4"), "utf8"), "taken")

      assert.deepStrictEqual(fs.readdirSync(tmpDir).sort(), [
        ".empty_1.mp4.tmp.corrupt",
        ".empty_1.mp4.tmp.idx.corrupt",
        ".orphan_1.mp4.tmp.idx.corrupt",
        ".other_1.webm.tmp",
        "notes.txt"
      ])
      assert.deepStrictEqual(fs.readdirSync(recordDir).filter((f) => !f.endsWith(".mp4")).sort(), [
        "cut.mp4.part.corrupt"
      ])
      assert.isTrue(fs.existsSync(finishedPath))
      const again = yield* recoverLeftovers({ tmpDirs: [tmpDir], recordDir, moovFirst: true })
      assert.deepStrictEqual(again, [], "a second scan finds nothing left to do")
    }))

  it.effect("an I/O failure (record_dir unusable) leaves the leftovers as they are for the next start", () =>
    Effect.gen(function*() {
      const { tmpDir } = dirs("io")
      const crashed = yield* crash(tmpDir, "io", plain)
      const notADir = path.join(root, "io", "records-file")
      fs.writeFileSync(notADir, "")
      const before = fs.readdirSync(tmpDir).sort()
      const recovered = yield* recoverLeftovers({ tmpDirs: [tmpDir], recordDir: notADir, moovFirst: true })
      assert.deepStrictEqual(recovered, [])
      assert.deepStrictEqual(fs.readdirSync(tmpDir).sort(), before)
      assert.isTrue(fs.existsSync(crashed.tmpPath))
    }))

  it.effect("record_tmp_dir equal to record_dir, and a missing directory, are fine", () =>
    Effect.gen(function*() {
      const { recordDir } = dirs("same")
      const crashed = yield* crash(recordDir, "same", reserved)
      const names: Array<LeftoverName> = []
      const recovered = yield* recoverLeftovers({
        tmpDirs: [recordDir, path.join(root, "missing")],
        recordDir,
        moovFirst: false,
        nameFor: (name) => {
          names.push(name)
          return `${name.mediaSessionId}-${name.index}-${name.startMillis}-${name.videoCodec}-${name.audioCodec}.mp4`
        }
      })
      assert.deepStrictEqual(recovered.map((r) => path.basename(r.path)), ["same-1-0-H264-AAC.mp4"])
      judge(recovered[0]!, crashed.journaled)
      assert.approximately(names[0]!.durationSeconds, recovered[0]!.durationSeconds, 1e-9)
      assert.deepStrictEqual(fs.readdirSync(recordDir), ["same-1-0-H264-AAC.mp4"])
    }))
})

describe("recoverFile (capstan recover FILE)", () => {
  it.effect("takes any file of a leftover: data, journal, header", () =>
    Effect.gen(function*() {
      const { tmpDir, recordDir } = dirs("cli")
      const options = { recordDir, moovFirst: true }
      const a = yield* crash(tmpDir, "a", plain)
      judge(yield* recoverFile(journalPath(a.tmpPath), options), a.journaled)
      const b = yield* crash(tmpDir, "b", split)
      fs.rmSync(journalPath(b.tmpPath))
      const fromHeader = yield* recoverFile(headerPathOf(b.tmpPath), options)
      assert.strictEqual(fromHeader.from, "header")
      judge(fromHeader, b.headerSamples)
      const c = yield* crash(tmpDir, "c", reserved)
      judge(yield* recoverFile(c.tmpPath, options), c.journaled)
      assert.deepStrictEqual(fs.readdirSync(tmpDir), [])
    }))

  it.effect("fails with the reason and leaves the files when nothing can be recovered", () =>
    Effect.gen(function*() {
      const { tmpDir, recordDir } = dirs("cli-fail")
      const d = yield* crash(tmpDir, "d", plain)
      fs.rmSync(journalPath(d.tmpPath))
      const error = yield* Effect.flip(recoverFile(d.tmpPath, { recordDir, moovFirst: true }))
      assert.strictEqual(error.reason, "NoSamples")
      assert.isTrue(fs.existsSync(d.tmpPath))
    }))
})

describe("defaultRecoveredName", () => {
  it("stream and temp file stem, or the stem alone", () => {
    const name = {
      mediaSessionId: "id",
      index: 1,
      startMillis: 0,
      durationSeconds: 1,
      videoCodec: "H264",
      audioCodec: "AAC"
    }
    assert.strictEqual(defaultRecoveredName({ ...name, streamName: "cam/1", stem: "id_1" }), "cam_1-id_1.mp4")
    assert.strictEqual(defaultRecoveredName({ ...name, streamName: "", stem: "id_1" }), "id_1.mp4")
    assert.strictEqual(defaultRecoveredName({ ...name, streamName: "test", stem: "test-f6a0" }), "test-f6a0.mp4")
  })
})
