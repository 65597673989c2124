import { NodeServices } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Deferred, Duration, Effect, FileSystem, Fiber } from "effect"
import type { AudioTrack, Frame, VideoTrack } from "../src/media/frame.ts"
import { encodeAmf0 } from "../src/protocols/rtmp/amf0.ts"
import { MessageType } from "../src/protocols/rtmp/messages.ts"
import { RtmpServer } from "../src/protocols/rtmp/server.ts"
import { type CollectedPublication, makeCollectingPublisher } from "./fixtures/rtmp/collecting-publisher.ts"
import { toAdts, toAnnexB } from "./fixtures/rtmp/elementary-streams.ts"
import { probeFrames, publishArgs, runFfmpeg } from "./fixtures/rtmp/ffmpeg.ts"
import { type LogLine, makeCapturedLogs, testServerLayer } from "./fixtures/rtmp/rtmp-test-server.ts"
import { connectScriptedClient } from "./fixtures/rtmp/scripted-client.ts"

const SECONDS = 3
const FPS = 30
const AAC_FRAMES = (SECONDS * 44100) / 1024 // ≈ 129.2

const awaitClosed = (publication: CollectedPublication) =>
  Deferred.await(publication.closed).pipe(Effect.timeout(Duration.seconds(5)))

const videoTrack = (p: CollectedPublication) => p.tracks.filter((t): t is VideoTrack => t.kind === "video")
const audioTrack = (p: CollectedPublication) => p.tracks.filter((t): t is AudioTrack => t.kind === "audio")
const framesOf = (p: CollectedPublication, kind: Frame["kind"]) => p.frames.filter((f) => f.kind === kind)

/** ffprobe decodes what we delivered, written back out as Annex-B H.264 and ADTS AAC. */
const probeDelivered = (p: CollectedPublication) =>
  Effect.scoped(Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const dir = yield* fs.makeTempDirectoryScoped({ prefix: "capstan-rtmp-" })
    yield* fs.writeFile(`${dir}/video.h264`, toAnnexB(videoTrack(p)[0], framesOf(p, "video")))
    yield* fs.writeFile(`${dir}/audio.aac`, toAdts(audioTrack(p)[0], framesOf(p, "audio")))
    const video = yield* probeFrames(`${dir}/video.h264`, "h264")
    const audio = yield* probeFrames(`${dir}/audio.aac`, "aac")
    return { video, audio }
  })).pipe(Effect.provide(NodeServices.layer))

/** Checks everything a 3 s ffmpeg publish of testsrc2 640x360@30 with -g 30 and 44.1 kHz AAC must yield. */
const assertFfmpegPublication = (p: CollectedPublication) =>
  Effect.gen(function*() {
    assert.deepStrictEqual(
      videoTrack(p).map((t) => [t.codec, t.timescale, t.width, t.height]),
      [["H264", 1000, 640, 360]]
    )
    assert.deepStrictEqual(audioTrack(p).map((t) => [t.codec, t.timescale, t.sampleRate]), [["AAC", 1000, 44100]])
    const video = framesOf(p, "video")
    const audio = framesOf(p, "audio")
    assert.strictEqual(video.length, SECONDS * FPS)
    assert.deepStrictEqual(video.flatMap((f, i) => (f.keyframe ? [i] : [])), [0, 30, 60])
    for (let i = 1; i < video.length; i++) assert.isAbove(video[i].dts, video[i - 1].dts)
    for (const f of video) assert.isAtLeast(f.pts, f.dts)
    // Presentation order: the pts are distinct and, sorted, advance one frame duration (33 or 34 ms) at a time.
    const pts = video.map((f) => f.pts).sort((a, b) => a - b)
    for (let i = 1; i < pts.length; i++) assert.include([33, 34], pts[i] - pts[i - 1], `pts step at ${i}`)
    assert.isAtLeast(audio.length, Math.floor(AAC_FRAMES) - 3)
    assert.isAtMost(audio.length, Math.ceil(AAC_FRAMES) + 3)

    const probed = yield* probeDelivered(p)
    assert.deepStrictEqual(
      [probed.video.codec_name, probed.video.width, probed.video.height, Number(probed.video.nb_read_frames)],
      ["h264", 640, 360, video.length]
    )
    assert.deepStrictEqual(
      [probed.audio.codec_name, Number(probed.audio.sample_rate), Number(probed.audio.nb_read_frames)],
      ["aac", 44100, audio.length]
    )
    return video
  })

const warnings = (lines: ReadonlyArray<LogLine>) => lines.filter((l) => l.level === "Warn" || l.level === "Error")

describe("RtmpServer with a real ffmpeg publisher", () => {
  it.live("receives H.264 with B-frames and AAC, with the stream name's query parsed", () =>
    Effect.gen(function*() {
      const publisher = makeCollectingPublisher()
      const logs = makeCapturedLogs()
      yield* Effect.gen(function*() {
        const { port } = yield* RtmpServer
        const result = yield* runFfmpeg(
          publishArgs(`rtmp://127.0.0.1:${port}/live/test?login=bob`, { seconds: SECONDS, bFrames: 2 })
        )
        assert.strictEqual(result.exitCode, 0, result.stderr)
        assert.strictEqual(publisher.publications.length, 1)
        const [p] = publisher.publications
        assert.deepStrictEqual(yield* awaitClosed(p), { failed: false, message: "client unpublished (FCUnpublish)" })
        assert.deepStrictEqual(
          [p.request.protocol, p.request.app, p.request.streamName, p.request.query, p.request.record],
          ["RTMP", "live", "test", { login: "bob" }, true]
        )
        const video = yield* assertFfmpegPublication(p)
        // B-frames: pts differs from dts, and by varying composition offsets, not one constant shift.
        assert.isTrue(video.some((f) => f.pts !== f.dts))
        assert.isAbove(new Set(video.map((f) => f.pts - f.dts)).size, 1)
        assert.deepStrictEqual(warnings(logs.lines), [])
      }).pipe(Effect.provide(testServerLayer(publisher, logs)))
    }))

  it.live("receives pts == dts without B-frames, and ?record=false overrides the server's record flag", () =>
    Effect.gen(function*() {
      const publisher = makeCollectingPublisher()
      const logs = makeCapturedLogs()
      yield* Effect.gen(function*() {
        const { port } = yield* RtmpServer
        const result = yield* runFfmpeg(
          publishArgs(`rtmp://127.0.0.1:${port}/live/nob?record=false`, { seconds: SECONDS, bFrames: 0 })
        )
        assert.strictEqual(result.exitCode, 0, result.stderr)
        const [p] = publisher.publications
        assert.strictEqual((yield* awaitClosed(p)).failed, false)
        assert.strictEqual(p.request.record, false)
        const video = yield* assertFfmpegPublication(p)
        assert.deepStrictEqual(video.filter((f) => f.pts !== f.dts), [])
      }).pipe(Effect.provide(testServerLayer(publisher, logs, { record: true })))
    }))
})

const headerAnnouncing = (length: number) => {
  const header = Buffer.from("03 000000 000000 14 00000000".replace(/\s+/g, ""), "hex")
  header.writeUIntBE(length, 4, 3)
  return header
}

describe("RtmpServer with broken peers", () => {
  it.live("closes each broken connection with one logged reason while a real publish goes on", () =>
    Effect.gen(function*() {
      const publisher = makeCollectingPublisher()
      const logs = makeCapturedLogs()
      yield* Effect.gen(function*() {
        const { port } = yield* RtmpServer
        const good = yield* runFfmpeg(
          publishArgs(`rtmp://127.0.0.1:${port}/live/good`, { seconds: SECONDS, bFrames: 2, realtime: true })
        ).pipe(Effect.forkChild)

        const cases: ReadonlyArray<readonly [string, (c: Effect.Success<ReturnType<typeof connectScriptedClient>>) =>
          Effect.Effect<void, Error>]> = [
          ["bad handshake: unsupported RTMP version byte 71 (expected 3)", (c) =>
            c.writeRaw(Buffer.from("GET / HTTP/1.1\r\nHost: capstan\r\n\r\n"))],
          ["truncated chunk at end of stream", (c) =>
            Effect.gen(function*() {
              yield* c.handshake
              yield* c.writeRaw(Buffer.concat([headerAnnouncing(300), Buffer.alloc(50, 1)]))
              yield* c.end
            })],
          ["absurd message length 16777215", (c) =>
            Effect.gen(function*() {
              yield* c.handshake
              yield* c.writeRaw(headerAnnouncing(0xffffff))
            })],
          ["AMF0 decode error: unsupported type marker 17 at offset 0", (c) =>
            Effect.gen(function*() {
              yield* c.handshake
              yield* c.send({
                chunkStreamId: 3,
                typeId: MessageType.commandAmf0,
                streamId: 0,
                timestamp: 0,
                payload: Buffer.from([0x11, 0x02])
              })
            })]
        ]
        for (const [reason, misbehave] of cases) {
          yield* Effect.scoped(Effect.gen(function*() {
            const client = yield* connectScriptedClient(port)
            yield* misbehave(client)
            yield* client.awaitClosed
            const lines = logs.lines.filter((l) => l.message.includes(client.localAddress))
            assert.deepStrictEqual(lines, [
              { level: "Warn", message: `RTMP connection from ${client.localAddress} failed: ${reason}` }
            ])
          }))
        }

        const result = yield* Fiber.join(good)
        assert.strictEqual(result.exitCode, 0, result.stderr)
        assert.strictEqual(publisher.publications.length, 1)
        const [p] = publisher.publications
        assert.strictEqual(p.request.streamName, "good")
        assert.strictEqual((yield* awaitClosed(p)).failed, false)
        yield* assertFfmpegPublication(p)
        assert.strictEqual(warnings(logs.lines).length, cases.length)
      }).pipe(Effect.provide(testServerLayer(publisher, logs)))
    }))

  it.live("closes the open publication as failed when its connection breaks the protocol", () =>
    Effect.gen(function*() {
      const publisher = makeCollectingPublisher()
      const logs = makeCapturedLogs()
      yield* Effect.gen(function*() {
        const { port } = yield* RtmpServer
        const client = yield* connectScriptedClient(port)
        yield* client.handshake
        yield* client.command(3, 0, "connect", 1, { app: "live", tcUrl: `rtmp://127.0.0.1:${port}/live` })
        yield* client.command(3, 0, "createStream", 2, null)
        yield* client.command(4, 1, "publish", 3, null, "doomed", "live")
        yield* client.awaitCommand("onStatus")
        yield* client.send({
          chunkStreamId: 5,
          typeId: MessageType.dataAmf0,
          streamId: 1,
          timestamp: 0,
          payload: encodeAmf0("onMetaData")
        })
        yield* client.writeRaw(headerAnnouncing(0xffffff))
        yield* client.awaitClosed
        const [p] = publisher.publications
        assert.deepStrictEqual(yield* awaitClosed(p), { failed: true, message: "absurd message length 16777215" })
        assert.deepStrictEqual(warnings(logs.lines).map((l) => l.message), [
          `RTMP connection from ${client.localAddress} failed: absurd message length 16777215 (stream live/doomed)`
        ])
      }).pipe(Effect.provide(testServerLayer(publisher, logs)))
    }))

  it.live("closes a connection that goes silent for the idle timeout", () =>
    Effect.gen(function*() {
      const publisher = makeCollectingPublisher()
      const logs = makeCapturedLogs()
      yield* Effect.gen(function*() {
        const { port } = yield* RtmpServer
        const client = yield* connectScriptedClient(port)
        yield* client.handshake
        yield* client.awaitClosed
        assert.deepStrictEqual(warnings(logs.lines).map((l) => l.message), [
          `RTMP connection from ${client.localAddress} failed: no data for 300ms`
        ])
      }).pipe(Effect.provide(testServerLayer(publisher, logs, { idleTimeout: "300 millis" })))
    }))
})

describe("RtmpServer lifecycle", () => {
  it.live("closes open publications as not failed when the server stops", () =>
    Effect.gen(function*() {
      const publisher = makeCollectingPublisher()
      const logs = makeCapturedLogs()
      const client = yield* Effect.gen(function*() {
        const { port } = yield* RtmpServer
        const client = yield* connectScriptedClient(port)
        yield* client.handshake
        yield* client.command(3, 0, "connect", 1, { app: "live" })
        yield* client.command(3, 0, "createStream", 2, null)
        yield* client.command(4, 1, "publish", 3, null, "live-one", "live")
        yield* client.awaitCommand("onStatus")
        return client
      }).pipe(Effect.provide(testServerLayer(publisher, logs)))
      // The layer's scope has closed: the listener and its connections are gone.
      const [p] = publisher.publications
      assert.deepStrictEqual(yield* awaitClosed(p), { failed: false, message: "server stopped" })
      yield* client.awaitClosed
      assert.deepStrictEqual(warnings(logs.lines), [])
    }))
})
