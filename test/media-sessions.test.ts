/**
 * The session actors in-process, through the Publisher and RecorderControl ports, with a container double that
 * counts frames (the subject here is supervision and lifecycles, not the file format): the stop timeout, one
 * session's crash leaving the others untouched while its file is still finalized, and recording on demand.
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber, Layer, PubSub, Ref } from "effect"
import { TestClock } from "effect/testing"
import { MediaSessions } from "../src/actors/media-sessions.ts"
import { RecorderControl } from "../src/actors/recorder-control.ts"
import { RecorderEnvironment, type RecorderSettings } from "../src/actors/recorder-settings.ts"
import type { Frame, Track } from "../src/media/frame.ts"
import { Publisher } from "../src/media/publisher.ts"
import { ContainerWriteError, type ContainerFormat } from "../src/pipelines/container-format.ts"
import { DiskSpace } from "../src/pipelines/disk-guard.ts"
import { defaultErrorBudgetPolicy } from "../src/pipelines/error-budget.ts"
import { FinalizerPool } from "../src/pipelines/finalizer-pool.ts"
import { AudioTranscoder } from "../src/pipelines/audio-transcoder.ts"
import { NodeServices } from "@effect/platform-node"

const video: Track = { kind: "video", codec: "H264", timescale: 1000, width: 320, height: 240, config: new Uint8Array([1]) }
// One IDR NAL in AVCC, so the frame check passes.
const nal = new Uint8Array([0, 0, 0, 2, 0x65, 0x88])
const frameAt = (ms: number, keyframe: boolean): Frame => ({ kind: "video", dts: ms, pts: ms, keyframe, data: nal })

/** A container that counts frames; it throws on a frame when told to, and finalizing takes `finalizeSeconds`. */
const countingFormat = (options: {
  readonly finalizeSeconds: number
  readonly throwOnFrame?: number
  /** Finalizing finds nothing to write (every frame it took was one it leaves out); aborts are counted. */
  readonly empty?: { aborts: number }
}): ContainerFormat => ({
  name: "mp4",
  extension: "mp4",
  open: () => {
    let frames = 0
    const empty = options.empty
    if (empty !== undefined) {
      return {
        push: () => undefined,
        bytesWritten: () => 0,
        finalize: () => Effect.fail(new ContainerWriteError("no frame was recorded", "Empty")),
        abort: () => Effect.sync(() => void empty.aborts++)
      }
    }
    return {
      push: () => {
        frames++
        if (frames === options.throwOnFrame) throw new Error("a bug in the writer")
        return undefined
      },
      bytesWritten: () => frames * nal.length,
      finalize: (finalPath) =>
        Effect.sleep(`${options.finalizeSeconds} seconds`).pipe(
          Effect.andThen(Effect.sync(() => fs.writeFileSync(finalPath, `frames=${frames}`))),
          Effect.as({ path: finalPath, bytes: frames, durationSeconds: 0 })
        ),
      abort: () => Effect.void
    }
  }
})

const testLayer = (overrides: Partial<RecorderSettings>) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "capstan-sessions-"))
  const settings: RecorderSettings = {
    recordStreams: true,
    recordDir: dir,
    tmpDir: dir,
    template: "{streamName}",
    rotation: { _tag: "Disabled" },
    audioBufferMax: 100,
    stopTimeoutSeconds: 15,
    hookScript: undefined,
    multiRecordDir: dir,
    multiRecordFormat: "mp4",
    clusterLimits: { clusterDurationMs: 100_000, clusterSizeBytes: 131_072 },
    transcode: { sampleRate: 44100, channels: 2, bitrateMode: 5, ffmpegPath: undefined },
    hookTimeoutSeconds: 60,
    errorBudget: defaultErrorBudgetPolicy,
    minSpaceBytes: 0,
    formatFor: () => countingFormat({ finalizeSeconds: 0 }),
    fileName: (template, fields, extension) => `${template.replace("{streamName}", fields.streamName)}.${extension}`,
    parseRotation: () => "not in this test",
    checkTemplate: () => undefined,
    ...overrides
  }
  const layer = MediaSessions.layer.pipe(
    Layer.provide(Layer.succeed(RecorderEnvironment, RecorderEnvironment.of({
      settings,
      runHook: () => Effect.void,
      runMultiHook: () => Effect.void
    }))),
    Layer.provide(DiskSpace.layerTest(Ref.makeUnsafe(Number.MAX_SAFE_INTEGER))),
    Layer.provide(FinalizerPool.layer(2)),
    Layer.provide(AudioTranscoder.layer),
    Layer.provide(NodeServices.layer)
  )
  return { dir, layer }
}

const request = (streamName: string, record = true) => ({
  protocol: "RTMP" as const,
  streamName,
  app: "live",
  query: {},
  remoteAddress: "127.0.0.1:1",
  record
})

describe("media session actors", () => {
  it.effect("reports UNPUBLISHED after record_stop_timeout while finalizing goes on in the background", () => {
    const { dir, layer } = testLayer({ stopTimeoutSeconds: 15, formatFor: () => countingFormat({ finalizeSeconds: 60 }) })
    return Effect.gen(function*() {
      const publisher = yield* Publisher
      const sessions = yield* MediaSessions
      const finished = yield* PubSub.subscribe(sessions.finalized)
      const publication = yield* publisher.open(request("slow"))
      publication.track(video)
      for (let i = 0; i < 10; i++) publication.frame(frameAt(i * 33, i === 0))
      const closing = yield* Effect.forkChild(publication.close({ failed: false, message: "client left" }))
      yield* TestClock.adjust("14 seconds")
      assert.isUndefined(closing.pollUnsafe(), "still waiting within the timeout")
      yield* TestClock.adjust("1 second")
      yield* Fiber.join(closing)
      assert.strictEqual(sessions.get(publication.mediaSessionId)!.status, "UNPUBLISHED")
      assert.isFalse(fs.existsSync(path.join(dir, "slow.mp4")), "finalizing is still going on")
      yield* TestClock.adjust("60 seconds")
      const done = yield* PubSub.take(finished)
      assert.strictEqual(done.path, path.join(dir, "slow.mp4"))
      assert.strictEqual(fs.readFileSync(done.path, "utf8"), "frames=10")
    }).pipe(Effect.provide(layer))
  })

  it.effect("keeps other sessions recording when one crashes, and still finalizes the crashed one's file", () => {
    const { dir, layer } = testLayer({
      formatFor: () => countingFormat({ finalizeSeconds: 0, throwOnFrame: 5 })
    })
    return Effect.gen(function*() {
      const publisher = yield* Publisher
      const sessions = yield* MediaSessions
      const control = yield* RecorderControl
      const crashing = yield* publisher.open(request("crashing"))
      crashing.track(video)
      // 150 ms apart: the recording opens once a second of video has shown no audio track is coming.
      for (let i = 0; i < 10; i++) crashing.frame(frameAt(i * 150, i === 0))
      const healthy = yield* publisher.open(request("healthy"))
      healthy.track(video)
      for (let i = 0; i < 4; i++) healthy.frame(frameAt(i * 33, i === 0))
      yield* Effect.yieldNow
      for (let i = 0; i < 50 && sessions.get(crashing.mediaSessionId)!.status !== "FAILED"; i++) yield* Effect.yieldNow
      assert.strictEqual(sessions.get(crashing.mediaSessionId)!.status, "FAILED")
      assert.strictEqual(fs.readFileSync(path.join(dir, "crashing.mp4"), "utf8"), "frames=5")
      const views = yield* control.listSessions
      assert.strictEqual(views.find((v) => v.name === "healthy")!.status, "PUBLISHING")
      yield* healthy.close({ failed: false, message: "done" })
      assert.strictEqual(fs.readFileSync(path.join(dir, "healthy.mp4"), "utf8"), "frames=4")
      yield* crashing.close({ failed: true, message: "socket closed" })
    }).pipe(Effect.provide(layer))
  })

  it.effect("a fragment whose writer finds nothing to write is aborted: no file, no temporary data", () => {
    const empty = { aborts: 0 }
    const { dir, layer } = testLayer({ formatFor: () => countingFormat({ finalizeSeconds: 0, empty }) })
    return Effect.gen(function*() {
      const publisher = yield* Publisher
      const sessions = yield* MediaSessions
      const publication = yield* publisher.open(request("nothing"))
      publication.track(video)
      for (let i = 0; i < 40; i++) publication.frame(frameAt(i * 33, i === 0))
      yield* publication.close({ failed: false, message: "done" })
      for (let i = 0; i < 50 && empty.aborts === 0; i++) yield* Effect.yieldNow
      assert.strictEqual(empty.aborts, 1)
      assert.strictEqual(sessions.get(publication.mediaSessionId)!.status, "UNPUBLISHED")
      assert.isFalse(fs.existsSync(path.join(dir, "nothing.mp4")))
    }).pipe(Effect.provide(layer))
  })

  it.effect("records on demand from the next keyframe, lists the file, and stops", () => {
    const { dir, layer } = testLayer({})
    return Effect.gen(function*() {
      const publisher = yield* Publisher
      const control = yield* RecorderControl
      const publication = yield* publisher.open(request("demand", false))
      publication.track(video)
      for (let i = 0; i < 5; i++) publication.frame(frameAt(i * 33, i === 0))
      yield* control.startRecording(publication.mediaSessionId, {})
      assert.deepStrictEqual(yield* control.listRecordings, [], "no file before the next keyframe")
      for (let i = 5; i < 12; i++) publication.frame(frameAt(i * 33, i === 7))
      yield* control.stopRecording(publication.mediaSessionId)
      yield* publication.close({ failed: false, message: "done" })
      // Frames 7..11 follow the keyframe that opened the recording.
      assert.strictEqual(fs.readFileSync(path.join(dir, "demand.mp4"), "utf8"), "frames=5")
      const missing = yield* Effect.flip(control.startRecording("nope", {}))
      assert.strictEqual(missing._tag, "SessionNotFound")
    }).pipe(Effect.provide(layer))
  })
})
