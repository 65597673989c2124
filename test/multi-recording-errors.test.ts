/**
 * The error budget of a multi-recording (file_recorder_error_interval, file_recorder_max_errors_per_interval), with
 * the real MKV file behind it: frames the writer refuses (decode time going back) count as errors, the stream whose
 * frame failed resumes at its next keyframe, the error that spends the budget stops the recording once, and the
 * file still plays with exactly the frames that were written.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { afterAll, beforeAll } from "vitest"
import { openMultiRecordFile } from "../src/actors/multi-record-files.ts"
import type { Frame } from "../src/media/frame.ts"
import { makeErrorBudgetPolicy } from "../src/pipelines/error-budget.ts"
import { MultiRecording } from "../src/pipelines/multi-recording.ts"
import { makeSource, readSourceFrames, tempDir } from "./fixtures/containers/source-media.ts"
import { countFrames, decodeErrors } from "./support/ffprobe.ts"

let dir = ""
beforeAll(() => {
  dir = tempDir("multi-errors")
})
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }))

describe("a multi-recording's error budget", () => {
  it.live("drops a failing stream's frames to its next keyframe, and stops once at the error that spends the budget", () =>
    Effect.gen(function*() {
      const media = yield* Effect.promise(() => readSourceFrames([makeSource(dir, "h264-aac.mp4", 6)]))
      const videoIndex = media.tracks.findIndex((t) => t.kind === "video")
      const file = yield* openMultiRecordFile({
        format: "mkv",
        tmpStem: path.join(dir, "budget"),
        creationMillis: Date.UTC(2026, 0, 2),
        clusterLimits: { clusterDurationMs: 100_000, clusterSizeBytes: 131_072 }
      })
      const rejected: Array<string> = []
      const exhausted: Array<string> = []
      let now = 0
      const recording = new MultiRecording({
        uri: "multi-recorder://budget",
        file,
        nowMillis: () => now,
        errorBudget: makeErrorBudgetPolicy({ interval: "60 minutes", maxErrors: 3 }),
        onRejected: (message) => rejected.push(message),
        onExhausted: (stopped, reason) => {
          assert.strictEqual(stopped, recording)
          exhausted.push(reason)
        }
      })
      const tap = recording.tap("session-1", "alice", () => true)
      // Three video frames stamped half a second back: the writer refuses each (decode time going back).
      const written: Array<Frame> = []
      const errorsAt = new Set([45, 100, 160].map((n) => media.frames.filter((f) => f.trackIndex === videoIndex)[n]!))
      let droppingVideo = false
      for (const timed of media.frames) {
        const { trackIndex, frame } = timed
        now = (frame.dts / media.tracks[trackIndex]!.timescale) * 1000
        if (errorsAt.has(timed)) {
          tap.push(media.tracks[trackIndex]!, { ...frame, dts: frame.dts - 45_000, pts: frame.pts - 45_000 })
          droppingVideo = !recording.stopped
          continue
        }
        tap.push(media.tracks[trackIndex]!, frame)
        if (recording.stopped) continue
        // What a writer that survives an error keeps: nothing of the stream until its next video keyframe.
        if (droppingVideo && !(frame.kind === "video" && frame.keyframe)) continue
        droppingVideo = false
        if (frame.kind === "video") written.push(frame)
      }

      assert.strictEqual(rejected.length, 2, rejected.join("\n"))
      assert.match(rejected[0]!, /decode time went back/)
      assert.strictEqual(exhausted.length, 1)
      assert.match(exhausted[0]!, /^3 recording errors within 60 minutes; last: track 0: .*decode time went back/)
      assert.isTrue(recording.stopped)
      assert.isAbove(tap.dropped, 20, "frames up to the next keyframe were dropped")

      const finished = yield* file.finalize(path.join(dir, "budget.mkv"))
      assert.strictEqual(decodeErrors(finished.path), "")
      assert.strictEqual(countFrames(finished.path, 0), written.length)
    }))
})
