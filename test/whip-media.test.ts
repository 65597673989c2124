/**
 * Media through the WHIP ingest, in process: a werift peer publishes ffmpeg-encoded streams over WHIP with paced
 * RTP to the real endpoint on 127.0.0.1, and what reaches the Publisher is judged byte for byte against the source
 * and by ffprobe (through the real MP4 writer, IVF, Ogg). Covers H.264 + Opus, VP8 + PCMA, A/V alignment by
 * sender reports and by arrival, reordering, and loss with recovery at the next key frame.
 */
import { NodeServices } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Deferred, Duration, Effect, FileSystem } from "effect"
import type { Frame, Track } from "../src/media/frame.ts"
import { nalType, splitAnnexB, NAL_PPS, NAL_SPS } from "../src/media/h264-annexb.ts"
import { candidateAddresses } from "../src/protocols/webrtc/sdp-candidates.ts"
import { WhipIngest } from "../src/protocols/webrtc/whip-ingest.ts"
import type { CollectedPublication } from "./fixtures/rtmp/collecting-publisher.ts"
import { writeIvf, writeMp4, writeOggOpus } from "./fixtures/webrtc/received-media.ts"
import { encodeAudio, encodeVideo, type EncodedAudio, type EncodedVideo } from "./fixtures/webrtc/test-media.ts"
import { type SendOptions, WhipSender } from "./fixtures/webrtc/whip-sender.ts"
import { request, serverUrl, whipTestServer } from "./fixtures/webrtc/whip-test-server.ts"
import { countFrames, packets, probe } from "./support/ffprobe.ts"

const SECONDS = 3
const h264 = encodeVideo("H264", { seconds: SECONDS })
const vp8 = encodeVideo("VP8", { seconds: SECONDS })
const opus = encodeAudio("OPUS", SECONDS)
const pcma = encodeAudio("PCMA", SECONDS)

const framesOf = (p: CollectedPublication, kind: Frame["kind"]) => p.frames.filter((f) => f.kind === kind)
const trackOf = <K extends Track["kind"]>(p: CollectedPublication, kind: K) =>
  p.tracks.filter((t): t is Extract<Track, { kind: K }> => t.kind === kind)
const keyIndices = (frames: ReadonlyArray<{ readonly keyframe: boolean }>) =>
  frames.flatMap((f, i) => (f.keyframe ? [i] : []))
const hex = (data: Uint8Array) => Buffer.from(data).toString("hex")
const steps = (frames: ReadonlyArray<Frame>) => frames.slice(1).map((f, i) => f.dts - frames[i]!.dts)

/** The NAL units of a source access unit that a frame must carry: all but SPS and PPS (they go to the avcC). */
const sliceNals = (annexB: Buffer) =>
  splitAnnexB(annexB).filter((nal) => nalType(nal) !== NAL_SPS && nalType(nal) !== NAL_PPS).map(hex)
const avccNals = (data: Uint8Array) => {
  const nals: Array<string> = []
  const buffer = Buffer.from(data)
  for (let at = 0; at < buffer.length; at += 4 + buffer.readUInt32BE(at)) {
    nals.push(buffer.subarray(at + 4, at + 4 + buffer.readUInt32BE(at)).toString("hex"))
  }
  return nals
}

/**
 * Publishes `media` as stream `name`, sends it paced, reads the session's view, DELETEs, and returns the closed
 * publication with what the sender saw.
 */
const publishAndSend = (
  server: ReturnType<typeof whipTestServer>,
  name: string,
  media: { readonly video?: EncodedVideo; readonly audio?: EncodedAudio },
  options: SendOptions = {}
) =>
  Effect.gen(function*() {
    const sender = new WhipSender(media)
    yield* Effect.addFinalizer(() => Effect.promise(() => sender.close()))
    const url = yield* serverUrl(`/whip/${name}`)
    const answer = yield* Effect.promise(() => sender.publish(url))
    assert.strictEqual(answer.status, 201, answer.body)
    yield* Effect.promise(() => sender.connected())
    yield* Effect.promise(() => sender.send(media, options))
    yield* Effect.sleep(Duration.millis(400))
    const views = yield* Effect.flatMap(WhipIngest, (whip) => whip.list)
    const deleted = yield* request(sender.location!, { method: "DELETE" })
    assert.strictEqual(deleted.status, 200)
    const publication = server.publication(name)!
    const closed = yield* Deferred.await(publication.closed).pipe(Effect.timeout(Duration.seconds(5)))
    return { sender, answer, view: views.find((v) => v.streamName === name)!, publication, closed }
  })

const inTempDir = <A, E>(f: (dir: string) => Effect.Effect<A, E>) =>
  Effect.scoped(Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    return yield* f(yield* fs.makeTempDirectoryScoped({ prefix: "capstan-whip-media-" }))
  })).pipe(Effect.provide(NodeServices.layer))

describe("WHIP media from a werift peer", () => {
  const server = whipTestServer()

  it.live("delivers H.264 and Opus whole, aligned by sender reports, and as the real MP4 writer records them", () =>
    Effect.gen(function*() {
      const media = { video: h264, audio: opus }
      const sent = yield* publishAndSend(server, "cam-h264", media, { audioDelayMs: 400 })
      const { answer, view, publication, closed } = sent
      assert.strictEqual(answer.headers.get("content-type"), "application/sdp")
      assert.match(answer.headers.get("location") ?? "", /^\/whip\/cam-h264\/[0-9a-f-]{36}$/)
      // The collecting publisher numbers its publications test-1, test-2, ...
      const mediaSessionId = `test-${server.publications.indexOf(publication) + 1}`
      assert.strictEqual(answer.headers.get("x-media-session-id"), mediaSessionId)
      const candidates = candidateAddresses(answer.body)
      assert.isNotEmpty(candidates)
      assert.deepStrictEqual(new Set(candidates), new Set(["127.0.0.1"]))
      assert.deepStrictEqual(closed, { failed: false, message: "the client ended the session (WHIP DELETE)" })
      assert.strictEqual(publication.request.protocol, "WEBRTC")
      assert.isTrue(publication.request.record)
      assert.deepStrictEqual(view.alignment, "sender-reports")
      assert.deepStrictEqual(view.tracks.map((t) => [t.kind, t.lost, t.late, t.malformed, t.brokenFrames]).sort(), [
        ["audio", 0, 0, 0, 0],
        ["video", 0, 0, 0, 0]
      ])

      const [video] = trackOf(publication, "video")
      const [audio] = trackOf(publication, "audio")
      assert.deepStrictEqual([video?.codec, video?.timescale, video?.width, video?.height], ["H264", 90_000, 320, 240])
      const audioShape = [audio?.codec, audio?.timescale, audio?.channels, audio?.config.length]
      assert.deepStrictEqual(audioShape, ["OPUS", 48_000, 2, 0])
      const videoFrames = framesOf(publication, "video")
      const audioFrames = framesOf(publication, "audio")
      assert.strictEqual(videoFrames.length, h264.frames.length)
      assert.deepStrictEqual(keyIndices(videoFrames), [0, 30, 60])
      assert.deepStrictEqual(new Set(steps(videoFrames)), new Set([3000]))
      videoFrames.forEach((frame, i) => assert.deepStrictEqual(avccNals(frame.data), sliceNals(h264.frames[i]!.data)))
      assert.deepStrictEqual(audioFrames.map((f) => hex(f.data)), opus.frames.map(hex))
      assert.deepStrictEqual(new Set(steps(audioFrames)), new Set([960]))
      // Audio started 400 ms after video; the sender reports put it there (to a 20 ms pacing step).
      assert.strictEqual(videoFrames[0]!.dts, 0)
      assert.approximately(audioFrames[0]!.dts / 48_000, 0.4, 0.03)

      yield* inTempDir((dir) =>
        Effect.gen(function*() {
          yield* writeMp4(`${dir}/video.mp4`, video!, videoFrames)
          const stream = probe(`${dir}/video.mp4`).streams[0]!
          assert.deepStrictEqual([stream.codec_name, stream.width, stream.height], ["h264", 320, 240])
          const probed = packets(`${dir}/video.mp4`, 0)
          assert.strictEqual(probed.length, 90)
          assert.deepStrictEqual(keyIndices(probed), [0, 30, 60])
          assert.strictEqual(countFrames(`${dir}/video.mp4`, 0), 90)
          writeOggOpus(`${dir}/audio.ogg`, 2, audioFrames)
          assert.strictEqual(countFrames(`${dir}/audio.ogg`, 0), opus.frames.length)
        })
      )
    }).pipe(Effect.provide(server.layer), Effect.scoped))

  it.live("delivers VP8 and PCMA byte for byte, with the VP8 size from its key frame header", () =>
    Effect.gen(function*() {
      const { publication, closed } = yield* publishAndSend(server, "cam-vp8", { video: vp8, audio: pcma })
      assert.isFalse(closed.failed)
      const [video] = trackOf(publication, "video")
      const [audio] = trackOf(publication, "audio")
      assert.deepStrictEqual([video?.codec, video?.width, video?.height, video?.config.length], ["VP8", 320, 240, 0])
      const audioShape = [audio?.codec, audio?.timescale, audio?.sampleRate, audio?.channels]
      assert.deepStrictEqual(audioShape, ["PCMA", 8000, 8000, 1])
      const videoFrames = framesOf(publication, "video")
      assert.deepStrictEqual(videoFrames.map((f) => hex(f.data)), vp8.frames.map((f) => hex(f.data)))
      assert.deepStrictEqual(keyIndices(videoFrames), keyIndices(vp8.frames))
      const audioFrames = framesOf(publication, "audio")
      assert.deepStrictEqual(Buffer.concat(audioFrames.map((f) => f.data)), Buffer.concat(pcma.frames))
      assert.deepStrictEqual(new Set(steps(audioFrames)), new Set([160]))

      yield* inTempDir((dir) =>
        Effect.sync(() => {
          writeIvf(`${dir}/video.ivf`, video!, videoFrames)
          const stream = probe(`${dir}/video.ivf`).streams[0]!
          assert.deepStrictEqual([stream.codec_name, stream.width, stream.height], ["vp8", 320, 240])
          assert.strictEqual(countFrames(`${dir}/video.ivf`, 0), 90)
        })
      )
    }).pipe(Effect.provide(server.layer), Effect.scoped))

  it.live("aligns by arrival when the sender sends no reports", () =>
    Effect.gen(function*() {
      const quick = whipTestServer({ syncHold: Duration.seconds(1) })
      const { view, publication } = yield* publishAndSend(quick, "cam-noreports", { video: h264, audio: pcma }, {
        audioDelayMs: 400,
        noSenderReports: true
      }).pipe(Effect.provide(quick.layer))
      assert.strictEqual(view.alignment, "arrival")
      const audioFrames = framesOf(publication, "audio")
      assert.strictEqual(framesOf(publication, "video")[0]!.dts, 0)
      // Arrival times carry the event loop's delays on both sides: looser than the sender reports.
      assert.approximately(audioFrames[0]!.dts / 8000, 0.4, 0.15)
    }).pipe(Effect.scoped))

  it.live("puts reordered packets back in order, and after a loss asks for a key frame and resumes at it", () =>
    Effect.gen(function*() {
      const { sender, view, publication } = yield* publishAndSend(server, "cam-loss", { video: h264 }, {
        dropVideoFrames: [10],
        reverseVideoFrames: [60]
      })
      const videoFrames = framesOf(publication, "video")
      // Frames 11-29 depend on the lost frame 10: they are dropped until the key frame at 30.
      assert.strictEqual(videoFrames.length, 10 + 60)
      assert.deepStrictEqual(keyIndices(videoFrames), [0, 10, 40])
      assert.strictEqual(videoFrames[10]!.dts, 30 * 3000)
      assert.deepStrictEqual(avccNals(videoFrames[40]!.data), sliceNals(h264.frames[60]!.data), "the reversed frame")
      const track = view.tracks.find((t) => t.kind === "video")!
      assert.isAbove(track.lost, 0)
      assert.strictEqual(track.late, 0)
      assert.isAtLeast(track.pli, 1)
      assert.isAtLeast(sender.pli, 1)
    }).pipe(Effect.provide(server.layer), Effect.scoped))
})
