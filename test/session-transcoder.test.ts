/**
 * A session's transcoder across its recordings, with the real ffmpeg behind it: started on the first recording
 * that needs it, kept while the audio track and the target stay, replaced when either changes, and left failed
 * (the audio left out, its frames never recorded as they are) after a failure until something changes.
 */
import { NodeServices } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Scope } from "effect"
import { SessionTranscoder } from "../src/actors/session-transcoder.ts"
import type { AudioTrack, Frame } from "../src/media/frame.ts"
import { AudioTranscoder } from "../src/pipelines/audio-transcoder.ts"
import { isAlive } from "./support/processes.ts"

const PCMA: AudioTrack = {
  kind: "audio",
  codec: "PCMA",
  timescale: 8000,
  sampleRate: 8000,
  channels: 1,
  config: new Uint8Array(0)
}
const second = (i: number): Frame => ({
  kind: "audio",
  dts: i * 8000,
  pts: i * 8000,
  keyframe: true,
  data: new Uint8Array(8000).fill(0xd5)
})

/** A SessionTranscoder over the real transcoder; `settle` runs what it handed to `run`, as the session does. */
const setup = (
  scope: Scope.Scope,
  transcoders: AudioTranscoder["Service"],
  ffmpegPath = "/usr/bin/ffmpeg"
) => {
  const frames: Array<Frame> = []
  const errors: Array<string> = []
  const pending: Array<Effect.Effect<void>> = []
  const pids: Array<number> = []
  const transcoder = new SessionTranscoder({
    start: (input, target, onFrame, onError) =>
      transcoders.start({ input, target, sampleRate: 8000, channels: 1, bitrateMode: 5, ffmpegPath, onFrame, onError })
        .pipe(Effect.tap((started) => Effect.sync(() => pids.push(started.pid))), Scope.provide(scope)),
    onFrame: (frame) => frames.push(frame),
    onError: (message) => errors.push(message),
    run: (effect) => pending.push(effect),
    fork: (effect) => pending.push(Effect.asVoid(Effect.forkIn(effect, scope)))
  })
  const settle = Effect.suspend(() => Effect.forEach(pending.splice(0), (effect) => effect, { discard: true }))
  return { transcoder, frames, errors, pids, settle }
}

describe("SessionTranscoder", () => {
  it.live("starts once, keeps the transcoder for the same track, and replaces it for another target", () =>
    Effect.gen(function*() {
      const scope = yield* Effect.scope
      const s = setup(scope, yield* AudioTranscoder)
      assert.strictEqual(s.transcoder.plan(PCMA, undefined), "as-is")
      assert.isFalse(s.transcoder.push(second(0)))

      assert.strictEqual(s.transcoder.plan(PCMA, "AAC"), "wait")
      // Frames while it starts are not recorded as they are.
      assert.isTrue(s.transcoder.push(second(0)))
      yield* s.settle
      const aacTrack = s.transcoder.plan(PCMA, "AAC")
      assert.isTrue(typeof aacTrack === "object" && aacTrack.codec === "AAC")
      // The same track again (a new object, as a re-sent header makes): the same transcoder.
      assert.strictEqual(s.transcoder.plan({ ...PCMA }, "AAC"), aacTrack)
      assert.lengthOf(s.pids, 1)
      for (let i = 0; i < 3; i++) assert.isTrue(s.transcoder.push(second(i)))
      for (let i = 0; i < 250 && s.frames.length < 10; i++) yield* Effect.sleep(20)
      assert.isAtLeast(s.frames.length, 10)

      // A WebM recording of the same audio: the AAC transcoder is closed, an Opus one started; what the AAC one
      // still writes is not recorded.
      const aacFrames = s.frames.length
      assert.strictEqual(s.transcoder.plan(PCMA, "OPUS"), "wait")
      yield* s.settle
      const opus = s.transcoder.plan(PCMA, "OPUS")
      assert.isTrue(typeof opus === "object" && opus.codec === "OPUS")
      assert.lengthOf(s.pids, 2)
      for (let i = 3; i < 5; i++) assert.isTrue(s.transcoder.push(second(i)))
      yield* s.transcoder.close
      for (let i = 0; i < 50 && isAlive(s.pids[0]!); i++) yield* Effect.sleep(20)
      assert.isFalse(isAlive(s.pids[0]!), "the replaced transcoder was closed")
      assert.isFalse(isAlive(s.pids[1]!))
      assert.deepStrictEqual(s.errors, [])
      // AAC frames are 1024 ticks apart from 0 (8 kHz); Opus packets 960 apart from 3 s at 48 kHz less the pre-skip.
      const aac = s.frames.slice(0, aacFrames)
      const opusOut = s.frames.slice(aacFrames)
      assert.isTrue(aac.every((frame, k) => frame.pts === k * 1024))
      assert.isAtLeast(opusOut.length, 2 * 50)
      assert.isTrue(opusOut.every((frame, k) => frame.pts === 3 * 48_000 - 312 + k * 960))
      // Back to a container that keeps the audio: no transcoder, frames recorded as they are.
      assert.strictEqual(s.transcoder.plan(PCMA, undefined), "as-is")
      assert.isFalse(s.transcoder.push(second(5)))
    }).pipe(Effect.scoped, Effect.provide(AudioTranscoder.layer), Effect.provide(NodeServices.layer)))

  it.live("a transcoder that failed to start leaves the audio out until the track or the target changes", () =>
    Effect.gen(function*() {
      const scope = yield* Effect.scope
      const s = setup(scope, yield* AudioTranscoder, "/nonexistent/ffmpeg")
      assert.strictEqual(s.transcoder.plan(PCMA, "OPUS"), "wait")
      yield* s.settle
      assert.lengthOf(s.errors, 1)
      assert.match(s.errors[0]!, /^audio transcoder: ffmpeg could not be started/)
      assert.strictEqual(s.transcoder.plan(PCMA, "OPUS"), "failed")
      assert.isTrue(s.transcoder.push(second(0)), "dropped, not recorded as PCMA in an Opus track")
      assert.strictEqual(s.transcoder.plan({ ...PCMA, sampleRate: 16_000, timescale: 16_000 }, "OPUS"), "wait")
      yield* s.settle
      assert.lengthOf(s.errors, 2)
    }).pipe(Effect.scoped, Effect.provide(AudioTranscoder.layer), Effect.provide(NodeServices.layer)))
})
