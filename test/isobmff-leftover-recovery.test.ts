import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as fc from "fast-check"
import { afterAll, beforeAll } from "vitest"
import {
  headerPathOf,
  inspectLeftover,
  journalPath,
  Mp4Recorder,
  type Mp4HeaderMode,
  recoverLeftover,
  sourceOf
} from "../src/containers/isobmff/index.ts"
import { CHUNK_SAMPLE_BYTES, readJournal, SYNC_BIT } from "../src/containers/isobmff/temp-files.ts"
import { type CoreMedia, coreMedia, decodeErrors, packetTotal, topLevelBoxes } from "./support/ffprobe.ts"

let dir = ""
let media: CoreMedia

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "capstan-leftover-"))
  const src = path.join(dir, "src.mp4")
  const result = spawnSync("ffmpeg", [
    "-nostdin", "-v", "error", "-f", "lavfi", "-i", "testsrc2=size=320x180:rate=30", "-f", "lavfi", "-i", "sine",
    "-t", "4", "-c:v", "libx264", "-g", "30", "-bf", "2", "-c:a", "aac", src
  ], { timeout: 60_000 })
  if (result.status !== 0) throw new Error(String(result.stderr))
  media = coreMedia(src, { milliseconds: true })
})

afterAll(() => fs.rmSync(dir, { recursive: true, force: true }))

const modes: Record<string, Mp4HeaderMode> = {
  plain: { _tag: "AtFinalize" },
  reserved: { _tag: "Reserved", reservedBytes: 128 * 1024, updateSeconds: 1 },
  split: { _tag: "Split", updateSeconds: 1 }
}

/**
 * Records the first `share` of the source and stops as a killed process would: no finalize, no flush (every write
 * of the recorder is a synchronous syscall, and header updates are awaited as a live stream's pacing lets them end).
 */
const crash = (name: string, mode: Mp4HeaderMode, share = 0.7) =>
  Effect.gen(function*() {
    const tmpPath = path.join(dir, `.${name}_1.mp4.tmp`)
    const recorder = yield* Mp4Recorder.open({
      tmpPath,
      tracks: media.tracks,
      creationTime: Date.UTC(2026, 0, 2),
      header: mode,
      streamName: `stream-${name}`
    })
    const frames = media.frames.slice(0, Math.floor(media.frames.length * share))
    for (const { track, frame } of frames) {
      assert.isUndefined(recorder.push(track, frame))
      yield* recorder.headerSettled
    }
    const journaled = media.tracks.reduce((sum, _, i) => sum + recorder.journaledSampleCount(i), 0)
    return { tmpPath, pushed: frames.length, journaled, headerSamples: recorder.headerSamples }
  })

/** (samples so far, data end) after each journaled chunk, read from the journal as recovery would. */
const checkpoints = (idx: Buffer) =>
  readJournal(idx).flatMap((r) => (r.type === "chunk" ? [r.chunk] : [])).reduce<Array<[number, number]>>(
    (acc, chunk) => {
      let bytes = 0
      for (let i = 0; i < chunk.count; i++) bytes += chunk.samples.readUInt32BE(i * CHUNK_SAMPLE_BYTES) & ~SYNC_BIT
      const [samples] = acc.at(-1) ?? [0, 0]
      return [...acc, [samples + chunk.count, chunk.offset + bytes]]
    },
    []
  )

describe("recovering a crashed recording's leftovers", () => {
  for (const [name, mode] of Object.entries(modes)) {
    it.effect(`${name}: from the journal, everything up to its last flush, leftovers removed`, () =>
      Effect.gen(function*() {
        const crashed = yield* crash(`journal-${name}`, mode)
        const leftover = yield* inspectLeftover(crashed.tmpPath)
        assert.strictEqual(leftover.streamName, `stream-journal-${name}`)
        assert.strictEqual(sourceOf(leftover), "journal")
        const finalPath = path.join(dir, `journal-${name}.mp4`)
        const recovered = yield* recoverLeftover(leftover, finalPath, true)
        assert.strictEqual(recovered.from, "journal")
        assert.strictEqual(recovered.samples, crashed.journaled)
        assert.strictEqual(packetTotal(finalPath), crashed.journaled)
        assert.isAtLeast(crashed.journaled, crashed.pushed - 40, "at most the ~0.5 s interleave buffer is lost")
        assert.strictEqual(decodeErrors(finalPath), "")
        for (const file of leftover.files) assert.isFalse(fs.existsSync(file), `${file} removed`)
      }))
  }

  for (const name of ["reserved", "split"]) {
    it.effect(`${name}: from the header written on the fly when the journal is gone`, () =>
      Effect.gen(function*() {
        const crashed = yield* crash(`header-${name}`, modes[name]!)
        fs.rmSync(journalPath(crashed.tmpPath))
        const leftover = yield* inspectLeftover(crashed.tmpPath)
        assert.strictEqual(sourceOf(leftover), "header")
        assert.strictEqual(leftover.header?.samples, crashed.headerSamples)
        const finalPath = path.join(dir, `header-${name}.mp4`)
        const recovered = yield* recoverLeftover(leftover, finalPath, true)
        assert.strictEqual(recovered.from, "header")
        assert.strictEqual(packetTotal(finalPath), crashed.headerSamples)
        assert.isAbove(crashed.headerSamples, 0)
        assert.strictEqual(decodeErrors(finalPath), "")
        assert.deepStrictEqual(topLevelBoxes(finalPath).map((b) => b.type).slice(0, 2), ["ftyp", "moov"])
        assert.isFalse(fs.existsSync(crashed.tmpPath))
        assert.isFalse(fs.existsSync(headerPathOf(crashed.tmpPath)))
      }))
  }

  it.effect("prefers the header when the journal holds less (a journal cut short)", () =>
    Effect.gen(function*() {
      const crashed = yield* crash("short-journal", modes.reserved!)
      const idx = journalPath(crashed.tmpPath)
      fs.truncateSync(idx, Math.floor(fs.statSync(idx).size / 4))
      const leftover = yield* inspectLeftover(crashed.tmpPath)
      assert.isAbove(leftover.journal!.samples, 0)
      assert.isBelow(leftover.journal!.samples, crashed.headerSamples)
      const recovered = yield* recoverLeftover(leftover, path.join(dir, "short-journal.mp4"), true)
      assert.strictEqual(recovered.from, "header")
      assert.strictEqual(packetTotal(recovered.path), crashed.headerSamples)
    }))

  it.effect("a plain recording with neither journal nor header has nothing to recover", () =>
    Effect.gen(function*() {
      const crashed = yield* crash("nothing", modes.plain!)
      fs.rmSync(journalPath(crashed.tmpPath))
      const leftover = yield* inspectLeftover(crashed.tmpPath)
      assert.isUndefined(sourceOf(leftover))
      const error = yield* Effect.flip(recoverLeftover(leftover, path.join(dir, "nothing.mp4"), true))
      assert.strictEqual(error.reason, "NoSamples")
      assert.isTrue(fs.existsSync(crashed.tmpPath), "left for the caller to quarantine")
    }))
})

describe("recovery after truncation anywhere (fast-check)", () => {
  for (const name of ["reserved", "split"]) {
    it.effect(`${name}: data and journal cut at random points give a playable file of the best checkpoint`, () =>
      Effect.gen(function*() {
        const crashed = yield* crash(`pristine-${name}`, modes[name]!, 0.8)
        const files = [crashed.tmpPath, journalPath(crashed.tmpPath), headerPathOf(crashed.tmpPath)]
        const pristine = files.map((file) => (fs.existsSync(file) ? fs.readFileSync(file) : undefined))
        const [data, idx] = [pristine[0]!, pristine[1]!]
        const marks = checkpoints(idx)
        const headerEnd = marks.find(([samples]) => samples === crashed.headerSamples)![1]
        let run = 0
        // Cuts anywhere, and cuts past what the last header covers, where header and journal compete.
        const property = fc.asyncProperty(
          fc.oneof(fc.integer({ min: 0, max: data.length }), fc.integer({ min: headerEnd, max: data.length })),
          fc.integer({ min: 0, max: idx.length }),
          (p, q) => {
            const runDir = path.join(dir, `run-${name}-${run++}`)
            const at = (file: string) => path.join(runDir, path.basename(file))
            fs.mkdirSync(runDir, { recursive: true })
            files.forEach((file, i) => pristine[i] && fs.writeFileSync(at(file), pristine[i]!))
            fs.truncateSync(at(files[0]!), p)
            fs.truncateSync(at(files[1]!), q)
            const journalSamples = checkpoints(idx.subarray(0, q)).filter(([, end]) => end <= p).at(-1)?.[0] ?? 0
            const headerSamples = headerEnd <= p ? crashed.headerSamples : 0
            const expected = Math.max(journalSamples, headerSamples)
            const finalPath = path.join(runDir, "out.mp4")
            const recovery = Effect.flatMap(inspectLeftover(at(files[0]!)), (l) => recoverLeftover(l, finalPath, true))
            return Effect.runPromise(Effect.result(recovery)).then((outcome) => {
              if (expected === 0) return assert.strictEqual(outcome._tag, "Failure")
              assert.strictEqual(outcome._tag, "Success", `cut data at ${p}, journal at ${q}`)
              const frames = packetTotal(finalPath)
              assert.strictEqual(frames, expected, `cut data at ${p}, journal at ${q}`)
              assert.isAtMost(frames, crashed.pushed)
            })
          }
        )
        yield* Effect.promise(() => fc.assert(property, { numRuns: 20 }))
      }))
  }
})
