/**
 * Completing an MKV that a crash left unfinished (copies of the writer's temporary file taken mid-recording, one
 * with its last Cluster torn): judged by ffprobe, mkvinfo and mkvmerge, it gets Cues, a Duration and a sized
 * Segment, keeps every frame of its whole Clusters, and seeks; other files are refused and left as they were.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { afterAll, beforeAll } from "vitest"
import { matroskaFormat } from "../src/containers/matroska/index.ts"
import { completeMkvLeftover } from "../src/containers/matroska/mkv/mkv-leftover.ts"
import type { MkvWriter } from "../src/containers/matroska/mkv/mkv-writer.ts"
import { ContainerWriteError } from "../src/pipelines/container-format.ts"
import { mkvinfoClusters, mkvmergeIdentify } from "./fixtures/containers/media-judges.ts"
import { makeSource, readSourceFrames, type SourceFrames, tempDir } from "./fixtures/containers/source-media.ts"
import { countFrames, decodeErrors, packetsFrom, probe } from "./support/ffprobe.ts"

let dir = ""
let media: SourceFrames
beforeAll(async () => {
  dir = tempDir("mkv-leftover")
  media = await readSourceFrames([makeSource(dir, "h264-aac.mp4", 6)], { video: 1000, audio: 1000 })
})
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }))

/** A writer fed the first `share` of the frames, with a Cluster per key frame (every second). */
const leftover = (name: string, share: number) =>
  Effect.gen(function*() {
    const writer = matroskaFormat("mkv", { clusterDurationMs: 100_000, clusterSizeBytes: 1 }).open({
      tmpPath: path.join(dir, `${name}.mkv.tmp`),
      tracks: media.tracks,
      creationTime: new Date(Date.UTC(2026, 0, 2))
    })
    if (writer instanceof ContainerWriteError) throw new Error(writer.message)
    const mkv = writer as MkvWriter
    const pushed = media.frames.slice(0, Math.floor(media.frames.length * share))
    for (const { trackIndex, frame } of pushed) assert.isUndefined(mkv.push(trackIndex, frame))
    yield* Effect.promise(() => mkv.settled())
    const copy = path.join(dir, `${name}.mkv`)
    fs.copyFileSync(path.join(dir, `${name}.mkv.tmp`), copy)
    return { copy, writer: mkv }
  })

describe("completeMkvLeftover", () => {
  it.live("adds Cues, Duration and the Segment size to a crash leftover, cutting a torn last Cluster", () =>
    Effect.gen(function*() {
      const { copy, writer } = yield* leftover("torn", 0.8)
      // The crash tore the last Cluster: a whole one's frames are all that may play.
      const whole = fs.statSync(copy).size
      const { clusters: before } = mkvinfoClusters(copy)
      fs.truncateSync(copy, whole - 2000)
      const framesBefore = countFrames(copy, 0)
      assert.isFalse(mkvinfoClusters(copy).hasCues)

      const result = yield* completeMkvLeftover(copy)
      assert.isAbove(result.cutBytes, 0, "the torn Cluster was cut")
      assert.strictEqual(result.clusters, before.length - 1)
      assert.strictEqual(decodeErrors(copy), "")
      const { clusters, hasCues } = mkvinfoClusters(copy)
      assert.isTrue(hasCues, "Cues")
      assert.strictEqual(clusters.length, before.length - 1)
      const identified = mkvmergeIdentify(copy)
      assert.isTrue(identified.recognized && identified.supported, identified.errors.join("; "))
      assert.deepStrictEqual(identified.errors, [])
      // The Duration reaches the end of the last whole Cluster (it starts the torn one, a second later).
      const probed = probe(copy)
      assert.approximately(Number(probed.format.duration), result.durationSeconds, 0.001)
      assert.approximately(result.durationSeconds, before.at(-1)!, 0.05)
      assert.isAtMost(countFrames(copy, 0), framesBefore)
      assert.isAtLeast(countFrames(copy, 0), framesBefore - 31)
      // Seeking through the Cues lands on the key frame that starts the Cluster holding the target (2.3 s: nearer
      // to that key frame than to the next, as ffprobe seeks to the nearest index entry).
      const seeked = packetsFrom(copy, 0, 2.3, 0.5)
      assert.isTrue(seeked[0]!.keyframe)
      assert.approximately(seeked[0]!.pts / 1000, Math.max(...clusters.filter((t) => t <= 2.3)), 0.05)
      yield* writer.abort()
    }))

  it.live("refuses a completed file, a finalized one and one written by another muxer, and leaves them as they are", () =>
    Effect.gen(function*() {
      const { copy, writer } = yield* leftover("twice", 0.5)
      yield* completeMkvLeftover(copy)
      const completed = fs.readFileSync(copy)
      const again = yield* Effect.flip(completeMkvLeftover(copy))
      assert.strictEqual(again.code, "NotOurs")
      assert.match(again.message, /finalized/)
      assert.isTrue(fs.readFileSync(copy).equals(completed))

      const finalized = yield* writer.finalize(path.join(dir, "finalized.mkv"))
      assert.strictEqual((yield* Effect.flip(completeMkvLeftover(finalized.path))).code, "NotOurs")

      const foreign = makeSource(dir, "h264-opus.mkv", 2)
      const bytes = fs.readFileSync(foreign)
      const refused = yield* Effect.flip(completeMkvLeftover(foreign))
      assert.strictEqual(refused.code, "NotOurs")
      assert.isTrue(fs.readFileSync(foreign).equals(bytes))
    }))
})
