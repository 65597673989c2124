import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { afterAll, beforeAll } from "vitest"
import { moveFile, writeComposed } from "../src/containers/isobmff/file-moves.ts"
import {
  inspectLeftover,
  Mp4Recorder,
  type Mp4HeaderMode,
  recoverLeftover
} from "../src/containers/isobmff/index.ts"
import { type CoreMedia, coreMedia, decodeErrors, packetTotal, topLevelBoxes } from "./support/ffprobe.ts"

/** record_dir on the disk, record_tmp_dir on a tmpfs mounted for the test (or /dev/shm where mounting is refused). */
let root = ""
let recordDir = ""
let tmpDir = ""
let mounted = false
let media: CoreMedia

beforeAll(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), "capstan-exdev-"))
  recordDir = path.join(root, "records")
  fs.mkdirSync(recordDir)
  const mount = path.join(root, "tmpfs")
  fs.mkdirSync(mount)
  mounted = spawnSync("mount", ["-t", "tmpfs", "-o", "size=64m", "tmpfs", mount]).status === 0
  tmpDir = mounted ? mount : fs.mkdtempSync("/dev/shm/capstan-exdev-")
  const src = path.join(recordDir, "src.mp4")
  const result = spawnSync("ffmpeg", [
    "-nostdin", "-v", "error", "-f", "lavfi", "-i", "testsrc2=size=320x180:rate=30", "-f", "lavfi", "-i", "sine",
    "-t", "3", "-c:v", "libx264", "-g", "30", "-bf", "2", "-c:a", "aac", src
  ], { timeout: 60_000 })
  if (result.status !== 0) throw new Error(String(result.stderr))
  media = coreMedia(src, { milliseconds: true })
})

afterAll(() => {
  if (mounted && spawnSync("umount", [tmpDir]).status !== 0) spawnSync("umount", ["-l", tmpDir])
  else fs.rmSync(tmpDir, { recursive: true, force: true })
  fs.rmSync(root, { recursive: true, force: true })
})

const cases: ReadonlyArray<{ name: string; header: Mp4HeaderMode; moovFirst: boolean; boxes: Array<string> }> = [
  { name: "plain-moov-first", header: { _tag: "AtFinalize" }, moovFirst: true, boxes: ["ftyp", "moov", "mdat"] },
  {
    name: "plain-moov-last",
    header: { _tag: "AtFinalize" },
    moovFirst: false,
    boxes: ["ftyp", "free", "mdat", "moov"]
  },
  {
    name: "reserved",
    header: { _tag: "Reserved", reservedBytes: 64 * 1024, updateSeconds: 1 },
    moovFirst: true,
    boxes: ["ftyp", "moov", "free", "free", "mdat"]
  },
  { name: "split", header: { _tag: "Split", updateSeconds: 1 }, moovFirst: true, boxes: ["ftyp", "moov", "mdat"] }
]

describe("record_tmp_dir on another filesystem than record_dir (EXDEV)", () => {
  it("the two directories really are on different filesystems", () => {
    assert.notStrictEqual(fs.statSync(tmpDir).dev, fs.statSync(recordDir).dev)
  })

  for (const c of cases) {
    it.effect(`${c.name}: finalize copies through final.part, and the file plays whole`, () =>
      Effect.gen(function*() {
        const tmpPath = path.join(tmpDir, `.${c.name}_1.mp4.tmp`)
        const recorder = yield* Mp4Recorder.open({ tmpPath, tracks: media.tracks, creationTime: 0, header: c.header })
        for (const { track, frame } of media.frames) {
          assert.isUndefined(recorder.push(track, frame))
          yield* recorder.headerSettled
        }
        const finalPath = path.join(recordDir, `${c.name}.mp4`)
        const info = yield* recorder.finalize({ finalPath, moovFirst: c.moovFirst })
        assert.deepStrictEqual(topLevelBoxes(info.path).map((b) => b.type), c.boxes)
        assert.strictEqual(fs.statSync(finalPath).size, info.bytes)
        assert.strictEqual(packetTotal(finalPath), media.frames.length)
        assert.strictEqual(decodeErrors(finalPath), "")
        assert.deepStrictEqual(fs.readdirSync(tmpDir).filter((f) => f.includes(c.name)), [], "temp files removed")
        assert.isFalse(fs.existsSync(`${finalPath}.part`))
      }))
  }

  it.effect("crash recovery from the tmpfs into record_dir", () =>
    Effect.gen(function*() {
      const tmpPath = path.join(tmpDir, ".crashed_1.mp4.tmp")
      const header: Mp4HeaderMode = { _tag: "Reserved", reservedBytes: 64 * 1024, updateSeconds: 1 }
      const recorder = yield* Mp4Recorder.open({ tmpPath, tracks: media.tracks, creationTime: 0, header })
      for (const { track, frame } of media.frames.slice(0, 200)) recorder.push(track, frame)
      yield* recorder.headerSettled
      const leftover = yield* inspectLeftover(tmpPath)
      const recovered = yield* recoverLeftover(leftover, path.join(recordDir, "crashed.mp4"), true)
      assert.strictEqual(packetTotal(recovered.path), recovered.samples)
      assert.isFalse(fs.existsSync(tmpPath))
      assert.isFalse(fs.existsSync(`${recovered.path}.part`))
      // The "crashed" recorder still holds its descriptors, which would keep the tmpfs busy.
      yield* recorder.abort()
    }))

  it.effect("moveFile renames on one filesystem and copies across, leaving the same bytes", () =>
    Effect.gen(function*() {
      const bytes = Buffer.from(Array.from({ length: 3 * 1024 * 1024 + 17 }, (_, i) => (i * 31) & 0xff))
      for (const from of [path.join(recordDir, "same.bin"), path.join(tmpDir, "other.bin")]) {
        fs.writeFileSync(from, bytes)
        const to = path.join(recordDir, `moved-${path.basename(from)}`)
        yield* moveFile(from, to)
        assert.isFalse(fs.existsSync(from))
        assert.isTrue(fs.readFileSync(to).equals(bytes))
        assert.isFalse(fs.existsSync(`${to}.part`))
      }
    }))

  it.effect("a copy that fails leaves neither the final name nor the part", () =>
    Effect.gen(function*() {
      const source = path.join(tmpDir, "short.bin")
      fs.writeFileSync(source, Buffer.alloc(1000, 1))
      const finalPath = path.join(recordDir, "never.mp4")
      const error = yield* Effect.flip(writeComposed(finalPath, [{ bytes: Buffer.from("head") }, {
        source,
        start: 0,
        end: 5000
      }]))
      assert.match(error.message, /unexpected end of file/)
      assert.isFalse(fs.existsSync(finalPath))
      assert.isFalse(fs.existsSync(`${finalPath}.part`))
    }))
})
