/**
 * RtspPulls end to end against a real GStreamer RTSP server (test/support/rtsp-camera.py): what it publishes is
 * written through the real MP4 writer (or as Annex-B / WAV) and judged by ffprobe.
 */
import { assert, describe, it } from "@effect/vitest"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { Deferred, Effect, Layer, Schedule } from "effect"
import { RtspPulls, type RtspPullOptions } from "../src/protocols/rtsp/rtsp-pulls.ts"
import { type CollectingPublisher, makeCollectingPublisher } from "./fixtures/rtmp/collecting-publisher.ts"
import {
  framesOf,
  lastTrack,
  timelineProblems,
  writeAnnexB,
  writeG711Wav,
  writeMp4
} from "./fixtures/rtsp/collected-media.ts"
import * as net from "node:net"
import { freePort } from "./support/capstan-process.ts"
import { countFrames, decodeErrors, probe } from "./support/ffprobe.ts"
import { rtspCamera } from "./support/rtsp-camera.ts"

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "capstan-rtsp-pulls-"))

const withPulls = <A, E>(
  publisher: CollectingPublisher,
  options: Partial<RtspPullOptions>,
  body: Effect.Effect<A, E, RtspPulls>
) =>
  body.pipe(
    Effect.provide(
      RtspPulls.layer({ record: true, udpBindAddress: "127.0.0.1", ...options }).pipe(Layer.provide(publisher.layer))
    )
  )

const seconds = (ms: number) => Effect.sleep(`${ms} millis`)

describe("RtspPulls against a GStreamer camera", () => {
  it.live("pulls H.264 + AAC over TCP interleaved into an MP4 that ffprobe decodes", () =>
    Effect.gen(function*() {
      const camera = yield* rtspCamera()
      const publisher = makeCollectingPublisher()
      yield* withPulls(publisher, {}, Effect.gen(function*() {
        const pulls = yield* RtspPulls
        const { mediaSessionId } = yield* pulls.startup({ uri: camera.url("/h264aac"), localStreamName: "cam1" })
        assert.strictEqual(mediaSessionId, "test-1")
        yield* seconds(3000)
        const [view] = yield* pulls.list()
        const uri = camera.url("/h264aac")
        assert.deepInclude(view, { uri, localStreamName: "cam1", state: "PLAYING", transport: "tcp" })
        assert.isAbove(view!.packets, 100)
        assert.strictEqual(view!.errors, 0)
        yield* pulls.terminate(camera.url("/h264aac"))
        assert.deepStrictEqual(yield* pulls.list(), [])
      }))
      const [publication] = publisher.publications
      assert.deepInclude(publication!.request, { protocol: "RTSP", streamName: "cam1", record: true })
      assert.deepStrictEqual(publication!.tracks.map((t) => `${t.kind} ${t.codec} ${t.timescale}`), [
        "video H264 90000",
        "audio AAC 44100"
      ])
      assert.deepStrictEqual(timelineProblems(publication!.frames), [])
      assert.isTrue(framesOf(publication!, "video")[0]!.keyframe)
      const file = path.join(dir, "h264aac.mp4")
      const rejected = yield* writeMp4(publication!, file)
      assert.deepStrictEqual(rejected, [])
      const probed = probe(file)
      const video = probed.streams.find((s) => s.codec_type === "video")!
      const audio = probed.streams.find((s) => s.codec_type === "audio")!
      assert.deepInclude(video, { codec_name: "h264", width: 320, height: 240 })
      assert.deepInclude(audio, { codec_name: "aac", sample_rate: "44100", channels: 1 })
      const duration = Number(probed.format.duration)
      assert.isAbove(duration, 2.2)
      assert.isBelow(duration, 4)
      assert.strictEqual(decodeErrors(file), "")
      assert.approximately(countFrames(file, video.index) / duration, 25, 4)
      assert.isFalse((yield* Deferred.await(publication!.closed)).failed)
      // RTP-Info anchors both streams at the same instant: they start together.
      const startOf = (kind: "video" | "audio") =>
        framesOf(publication!, kind)[0]!.dts / lastTrack(publication!, kind)!.timescale
      assert.isBelow(Math.abs(startOf("video") - startOf("audio")), 0.3)
      const session = camera.requests().find((r) => r.startsWith("PLAY "))!.split(" ")[1]
      assert.include(camera.requests(), `TEARDOWN ${session}`)
    }).pipe(Effect.scoped))

  for (const codec of ["PCMA", "PCMU"] as const) {
    it.live(`pulls H.264 + ${codec} over TCP: Annex-B and a WAV that ffprobe decodes`, () =>
      Effect.gen(function*() {
        const camera = yield* rtspCamera()
        const publisher = makeCollectingPublisher()
        const uri = camera.url(`/h264${codec.toLowerCase()}`)
        yield* withPulls(publisher, {}, Effect.gen(function*() {
          const pulls = yield* RtspPulls
          yield* pulls.startup({ uri, localStreamName: "g711" })
          yield* seconds(2500)
        }))
        const [publication] = publisher.publications
        const audio = lastTrack(publication!, "audio")!
        assert.deepInclude(audio, { codec, timescale: 8000, sampleRate: 8000, channels: 1 })
        assert.strictEqual(audio.config.length, 0)
        assert.deepStrictEqual(timelineProblems(publication!.frames), [])
        const h264 = path.join(dir, `${codec}.h264`)
        const wav = path.join(dir, `${codec}.wav`)
        writeAnnexB(publication!, h264)
        writeG711Wav(publication!, wav)
        assert.deepInclude(probe(h264).streams[0], { codec_name: "h264", width: 320, height: 240 })
        assert.strictEqual(decodeErrors(h264), "")
        const probedWav = probe(wav)
        assert.deepInclude(probedWav.streams[0], { codec_name: codec === "PCMA" ? "pcm_alaw" : "pcm_mulaw" })
        assert.strictEqual(decodeErrors(wav), "")
        // Consecutive frames are spaced by their sample counts: the audio timeline has no holes.
        const frames = framesOf(publication!, "audio")
        const spans = frames.slice(1).map((f, i) => f.dts - frames[i]!.dts - frames[i]!.data.length)
        assert.deepStrictEqual(spans.filter((gap) => gap !== 0), [])
        assert.isAbove(Number(probedWav.format.duration), 1.5)
      }).pipe(Effect.scoped))
  }

  it.live("falls back to UDP when the camera refuses RTP over TCP (461)", () =>
    Effect.gen(function*() {
      const camera = yield* rtspCamera({ udpOnly: true })
      const publisher = makeCollectingPublisher()
      yield* withPulls(publisher, {}, Effect.gen(function*() {
        const pulls = yield* RtspPulls
        yield* pulls.startup({ uri: camera.url("/h264aac"), localStreamName: "udp" })
        yield* seconds(2500)
        const [view] = yield* pulls.list()
        assert.deepInclude(view, { transport: "udp", state: "PLAYING", errors: 0 })
        assert.isAbove(view!.packets, 80)
      }))
      const [publication] = publisher.publications
      assert.deepStrictEqual(timelineProblems(publication!.frames), [])
      const file = path.join(dir, "udp.mp4")
      assert.deepStrictEqual(yield* writeMp4(publication!, file), [])
      assert.deepStrictEqual(probe(file).streams.map((s) => s.codec_name), ["h264", "aac"])
      assert.strictEqual(decodeErrors(file), "")
    }).pipe(Effect.scoped))

  it.live("uses UDP when told to, with a camera that would take TCP", () =>
    Effect.gen(function*() {
      const camera = yield* rtspCamera()
      const publisher = makeCollectingPublisher()
      yield* withPulls(publisher, { transport: "udp" }, Effect.gen(function*() {
        const pulls = yield* RtspPulls
        yield* pulls.startup({ uri: camera.url("/h264pcma"), localStreamName: "forced" })
        yield* seconds(2000)
        const [view] = yield* pulls.list()
        assert.deepInclude(view, { transport: "udp", state: "PLAYING" })
      }))
      const [publication] = publisher.publications
      assert.isAbove(framesOf(publication!, "video").length, 20)
      // rtppcmapay fills its MTU: about 175 ms of samples per packet.
      const samples = framesOf(publication!, "audio").reduce((sum, f) => sum + f.data.length, 0)
      assert.isAbove(samples, 8000)
    }).pipe(Effect.scoped))

  for (const scheme of ["basic", "digest"] as const) {
    it.live(`authenticates with ${scheme}; a wrong password is a clear error without the password`, () =>
      Effect.gen(function*() {
        const camera = yield* rtspCamera({ [scheme]: "admin:s3cr%t!" })
        const publisher = makeCollectingPublisher()
        yield* withPulls(publisher, {}, Effect.gen(function*() {
          const pulls = yield* RtspPulls
          const wrong = yield* Effect.flip(
            pulls.startup({ uri: camera.url("/h264aac", "admin:guess%21"), localStreamName: "wrong" })
          )
          assert.strictEqual(wrong.kind, "Unauthorized")
          assert.include(wrong.reason, `camera ${camera.url("/h264aac")}`)
          assert.notInclude(wrong.reason, "guess")
          const none = yield* Effect.flip(pulls.startup({ uri: camera.url("/h264aac"), localStreamName: "none" }))
          assert.strictEqual(none.kind, "Unauthorized")
          assert.include(none.reason, "requires credentials")
          assert.strictEqual(publisher.publications.length, 0, "no publication for a refused camera")
          // The password percent-encoded in the URI ("%25" is "%").
          yield* pulls.startup({ uri: camera.url("/h264aac", "admin:s3cr%25t!"), localStreamName: "right" })
          yield* seconds(1500)
          const [view] = yield* pulls.list()
          assert.deepInclude(view, { uri: camera.url("/h264aac"), state: "PLAYING" })
        }))
        assert.strictEqual(publisher.publications.length, 1)
        assert.isAbove(framesOf(publisher.publications[0]!, "video").length, 10)
      }).pipe(Effect.scoped))
  }

  it.live("an unreachable camera, or an unknown path, is a clear error and other pulls go on", () =>
    Effect.gen(function*() {
      const camera = yield* rtspCamera()
      const nobody = yield* Effect.promise(() => freePort())
      const publisher = makeCollectingPublisher()
      yield* withPulls(publisher, {}, Effect.gen(function*() {
        const pulls = yield* RtspPulls
        yield* pulls.startup({ uri: camera.url("/h264aac"), localStreamName: "good" })
        const refused = yield* Effect.flip(
          pulls.startup({ uri: `rtsp://user:pw@127.0.0.1:${nobody}/live`, localStreamName: "bad" })
        )
        assert.deepInclude(refused, {
          kind: "Unreachable",
          reason: `camera rtsp://127.0.0.1:${nobody}/live unreachable: connection refused`
        })
        const missing = yield* Effect.flip(pulls.startup({ uri: camera.url("/nope"), localStreamName: "missing" }))
        assert.strictEqual(missing.kind, "NotFound")
        const before = (yield* pulls.list())[0]!.packets
        yield* seconds(1000)
        const views = yield* pulls.list()
        assert.deepStrictEqual(views.map((v) => `${v.localStreamName} ${v.state}`), ["good PLAYING"])
        assert.isAbove(views[0]!.packets, before)
      }))
      assert.deepStrictEqual(publisher.publications.map((p) => p.request.streamName), ["good"])
    }).pipe(Effect.scoped))

  it.live("a camera that dies and comes back on the same port continues the same publication", () =>
    Effect.gen(function*() {
      const camera = yield* rtspCamera()
      const publisher = makeCollectingPublisher()
      const uri = camera.url("/h264aac")
      let gapMs = 0
      yield* withPulls(publisher, { rtpTimeout: "2 seconds" }, Effect.gen(function*() {
        const pulls = yield* RtspPulls
        const { mediaSessionId } = yield* pulls.startup({ uri, localStreamName: "phoenix" })
        yield* seconds(2000)
        const killedAt = Date.now()
        yield* Effect.promise(() => camera.kill())
        yield* seconds(800)
        assert.deepInclude((yield* pulls.list())[0], { state: "RECONNECTING", mediaSessionId })
        yield* Effect.promise(() => camera.restart())
        const back = yield* pulls.list().pipe(
          Effect.repeat({ until: (views) => views[0]?.state === "PLAYING", schedule: Schedule.spaced("200 millis") }),
          Effect.timeout("15 seconds")
        )
        gapMs = Date.now() - killedAt
        assert.deepInclude(back[0], { mediaSessionId, transport: "tcp" })
        yield* seconds(2000)
      }))
      assert.strictEqual(publisher.publications.length, 1, "one publication across the restart")
      const [publication] = publisher.publications
      assert.deepStrictEqual(timelineProblems(publication!.frames), [])
      assert.strictEqual(publication!.tracks.length, 2, "same configuration: the tracks are not declared again")
      const video = framesOf(publication!, "video")
      const jumps = video.slice(1).map((f, i) => (f.dts - video[i]!.dts) / 90000)
      const largest = Math.max(...jumps)
      const gapAt = jumps.indexOf(largest) + 1
      assert.approximately(largest, gapMs / 1000, 1.5, "the dts jumps by about the wall-clock gap")
      assert.isTrue(video[gapAt]!.keyframe, "the new connection starts at a keyframe")
      assert.isAbove(video.length - gapAt, 25, "frames after the restart")
      const file = path.join(dir, "phoenix.mp4")
      assert.deepStrictEqual(yield* writeMp4(publication!, file), [])
      assert.strictEqual(decodeErrors(file), "")
      assert.isAbove(Number(probe(file).format.duration), 4 + gapMs / 1000 - 1.5)
    }).pipe(Effect.scoped))

  it.live("keeps the session alive with GET_PARAMETER every half Session timeout", () =>
    Effect.gen(function*() {
      // Over UDP the server hears nothing else from us: without keep-alives its 2 s session would expire.
      const camera = yield* rtspCamera({ sessionTimeout: 2 })
      const publisher = makeCollectingPublisher()
      yield* withPulls(publisher, { transport: "udp", rtpTimeout: "1500 millis" }, Effect.gen(function*() {
        const pulls = yield* RtspPulls
        yield* pulls.startup({ uri: camera.url("/h264pcmu"), localStreamName: "alive" })
        yield* seconds(5000)
        const [view] = yield* pulls.list()
        assert.deepInclude(view, { state: "PLAYING", transport: "udp" })
      }))
      const session = camera.requests().find((r) => r.startsWith("PLAY "))!.split(" ")[1]
      const keepAlives = camera.requests().filter((r) => r === `GET_PARAMETER ${session}`)
      assert.notInclude(camera.output(), "EXPIRED")
      assert.strictEqual(camera.requests().filter((r) => r.startsWith("DESCRIBE")).length, 1, "never reconnected")
      assert.isAtLeast(keepAlives.length, 4)
      const video = framesOf(publisher.publications[0]!, "video")
      assert.isAbove(video.at(-1)!.dts - video[0]!.dts, 4 * 90000, "video flowed for the whole 5 s")
    }).pipe(Effect.scoped))

  it.live("refuses a second pull of the same camera or name, and a camera that never answers times out", () =>
    Effect.gen(function*() {
      const camera = yield* rtspCamera()
      const silent = yield* Effect.acquireRelease(
        Effect.promise(() =>
          new Promise<net.Server>((resolve) => {
            const server = net.createServer(() => {})
            server.listen(0, "127.0.0.1", () => resolve(server))
          })
        ),
        (server) => Effect.sync(() => server.close())
      )
      const silentPort = (silent.address() as net.AddressInfo).port
      const publisher = makeCollectingPublisher()
      yield* withPulls(publisher, { startupTimeout: "1 second" }, Effect.gen(function*() {
        const pulls = yield* RtspPulls
        yield* pulls.startup({ uri: camera.url("/h264pcma"), localStreamName: "one" })
        const sameUri = yield* Effect.flip(
          pulls.startup({ uri: camera.url("/h264pcma", "someone:else"), localStreamName: "two" })
        )
        assert.strictEqual(sameUri.kind, "AlreadyPulled")
        const sameName = yield* Effect.flip(pulls.startup({ uri: camera.url("/h264pcmu"), localStreamName: "one" }))
        assert.strictEqual(sameName.kind, "AlreadyPulled")
        const notRtsp = yield* Effect.flip(pulls.startup({ uri: "http://127.0.0.1/x", localStreamName: "three" }))
        assert.strictEqual(notRtsp.kind, "InvalidUri")
        const started = Date.now()
        const mute = yield* Effect.flip(
          pulls.startup({ uri: `rtsp://127.0.0.1:${silentPort}/x`, localStreamName: "mute" })
        )
        assert.strictEqual(mute.kind, "Timeout")
        assert.isBelow(Date.now() - started, 3000)
        assert.deepStrictEqual((yield* pulls.list()).map((v) => v.localStreamName), ["one"])
        const missing = yield* Effect.flip(pulls.terminate(camera.url("/h264pcmu")))
        assert.strictEqual(missing._tag, "RtspPullNotFound")
      }))
      assert.strictEqual(publisher.publications.length, 1)
    }).pipe(Effect.scoped))
})
