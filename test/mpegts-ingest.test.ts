/**
 * The MPEG-TS over UDP ingest end to end: its REST routes served on 127.0.0.1, real ffmpeg senders on loopback UDP,
 * and a collecting Publisher. What arrives is judged against ffprobe's view of the very file that was sent.
 */
import { assert, layer } from "@effect/vitest"
import { Deferred, Duration, Effect, Layer } from "effect"
import * as dgram from "node:dgram"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, beforeAll } from "vitest"
import type { Frame } from "../src/media/frame.ts"
import { mpegTsApiRoutes } from "../src/http/mpegts-api.ts"
import { boundPort, corsRoutes, serveRoutes } from "../src/http/http-server.ts"
import { MpegTsIngest } from "../src/protocols/mpegts/mpegts-ingest.ts"
import { type CollectedPublication, makeCollectingPublisher } from "./fixtures/rtmp/collecting-publisher.ts"
import { seededBytes } from "./fixtures/mpegts/ts-streams.ts"
import { packets, type ProbedPacket } from "./support/ffprobe.ts"
import { encodeMpegTs, type SendOptions, startMpegTsSender } from "./support/mpegts-sender.ts"

const TIMEOUT_SECONDS = 3

let dir = ""
const files = { four: "", two: "" }
interface Probed {
  readonly video: Array<ProbedPacket>
  readonly audio: Array<ProbedPacket>
}
const probed: Record<keyof typeof files, Probed> = { four: { video: [], audio: [] }, two: { video: [], audio: [] } }

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "capstan-mpegts-ingest-"))
  // Encoded once and sent as they are (-c copy), so ffprobe's view of the file is exactly what was sent.
  files.four = encodeMpegTs(path.join(dir, "four.ts"), { seconds: 4, gop: 30 })
  files.two = encodeMpegTs(path.join(dir, "two.ts"), { seconds: 2, gop: 30 })
  for (const name of ["four", "two"] as const) {
    probed[name] = { video: packets(files[name], 0), audio: packets(files[name], 1) }
  }
})

afterAll(() => fs.rmSync(dir, { recursive: true, force: true }))

const publisher = makeCollectingPublisher((request) =>
  request.streamName === "taken-elsewhere" ? "stream taken-elsewhere is already publishing" : undefined
)

const routes = Layer.mergeAll(mpegTsApiRoutes, corsRoutes)
const server = serveRoutes(routes, { host: "127.0.0.1", port: 0, quiet: true }).pipe(
  Layer.provideMerge(MpegTsIngest.layer({ record: true, timeout: Duration.seconds(TIMEOUT_SECONDS) })),
  Layer.provide(publisher.layer)
)

interface Answer {
  readonly status: number
  readonly headers: Headers
  readonly json: any
}

const post = (route: string, body: string | undefined) =>
  Effect.flatMap(boundPort, (port) =>
    Effect.promise(async (): Promise<Answer> => {
      const response = await fetch(`http://127.0.0.1:${port}/rest-api/mpegts/${route}`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        signal: AbortSignal.timeout(15_000),
        ...(body === undefined ? {} : { body })
      })
      const text = await response.text()
      return { status: response.status, headers: response.headers, json: text === "" ? undefined : JSON.parse(text) }
    }))

const startup = (localStreamName: string, extra: Record<string, unknown> = {}) =>
  Effect.gen(function*() {
    const answer = yield* post("startup", JSON.stringify({ localStreamName, transport: "udp", ...extra }))
    assert.strictEqual(answer.status, 200, JSON.stringify(answer.json))
    return answer.json as { readonly port: number; readonly localStreamName: string; readonly mediaSessionId: string }
  })

/** Runs one ffmpeg sender to its end (killed by PID if the test stops first), then lets the socket drain. */
const send = (options: SendOptions) =>
  Effect.acquireRelease(
    Effect.sync(() => startMpegTsSender(options, 30_000)),
    (sender) => Effect.sync(sender.kill)
  ).pipe(
    Effect.flatMap((sender) => Effect.promise(() => sender.done)),
    Effect.tap((result) => Effect.sync(() => assert.strictEqual(result.code, 0, result.stderr))),
    Effect.andThen(Effect.sleep(Duration.millis(300))),
    Effect.scoped
  )

const publicationOf = (name: string): CollectedPublication => {
  const found = publisher.publications.filter((p) => p.request.streamName === name)
  assert.strictEqual(found.length, 1, `one publication for ${name}`)
  return found[0]!
}

const framesOf = (p: CollectedPublication, kind: Frame["kind"]) => p.frames.filter((f) => f.kind === kind)

const assertNonDecreasing = (frames: ReadonlyArray<Frame>, label: string) => {
  for (let i = 1; i < frames.length; i++) assert.isAtLeast(frames[i]!.dts, frames[i - 1]!.dts, `${label} dts at ${i}`)
}

const awaitClosed = (p: CollectedPublication, seconds = 10) =>
  Deferred.await(p.closed).pipe(Effect.timeout(Duration.seconds(seconds)))

/** Loopback UDP port `port` can be bound again. */
const portIsFree = (port: number) =>
  Effect.promise(() =>
    new Promise<boolean>((resolve) => {
      const socket = dgram.createSocket("udp4")
      socket.once("error", () => resolve(false))
      socket.bind(port, "127.0.0.1", () => socket.close(() => resolve(true)))
    })
  )

const sendDatagrams = (port: number, datagrams: ReadonlyArray<Uint8Array>) =>
  Effect.promise(() =>
    new Promise<void>((resolve, reject) => {
      const socket = dgram.createSocket("udp4")
      let left = datagrams.length
      for (const datagram of datagrams) {
        socket.send(datagram, port, "127.0.0.1", (error) => {
          if (error) reject(error)
          if (--left === 0) socket.close(() => resolve())
        })
      }
    })
  )

layer(server, { excludeTestServices: true })("MPEG-TS ingest over UDP", (it) => {
  it.effect("receives a paced ffmpeg send: the frames ffprobe sees in the file, with keyframes and timestamps", () =>
    Effect.gen(function*() {
      const started = yield* startup("cam-four")
      assert.strictEqual(started.localStreamName, "cam-four")
      const publication = publicationOf("cam-four")
      // The collecting publisher names its sessions test-<n>, n counting its publications.
      assert.strictEqual(started.mediaSessionId, `test-${publisher.publications.indexOf(publication) + 1}`)
      assert.strictEqual(publication.request.protocol, "MPEGTS")
      assert.strictEqual(publication.request.record, true)

      yield* send({ port: started.port, file: files.four })
      const listed = yield* post("find_all", undefined)
      assert.strictEqual(listed.headers.get("access-control-allow-origin"), "*")
      assert.deepStrictEqual(listed.json.map((s: any) => [s.localStreamName, s.port, s.transport, s.errors]), [
        ["cam-four", started.port, "udp", 0]
      ])
      assert.isAbove(listed.json[0].packets, 1000)

      const ended = yield* post("terminate", JSON.stringify({ localStreamName: "cam-four" }))
      assert.deepStrictEqual([ended.status, ended.json], [200, {}])
      assert.deepStrictEqual(yield* awaitClosed(publication), { failed: false, message: "terminated" })
      assert.deepStrictEqual((yield* post("find_all", "{}")).json, [])
      assert.isTrue(yield* portIsFree(started.port))

      const video = framesOf(publication, "video")
      const audio = framesOf(publication, "audio")
      const expected = probed.four
      assert.isAtMost(Math.abs(video.length - expected.video.length), 1, `${video.length} of ${expected.video.length}`)
      assert.isAtMost(Math.abs(audio.length - expected.audio.length), 1, `${audio.length} of ${expected.audio.length}`)
      // The sender's own timestamps are kept: each delivered video frame is one of the file's, with its key flag.
      const byPts = new Map(expected.video.map((p) => [p.pts, p]))
      for (const f of video) assert.strictEqual(byPts.get(f.pts)?.keyframe, f.keyframe, `video frame at pts ${f.pts}`)
      assert.deepStrictEqual(
        video.filter((f) => f.keyframe).map((f) => f.pts),
        expected.video.filter((p) => p.keyframe && video.some((f) => f.pts === p.pts)).map((p) => p.pts)
      )
      assert.isTrue(video[0]!.keyframe)
      assertNonDecreasing(video, "video")
      assertNonDecreasing(audio, "audio")
      assert.deepStrictEqual(publication.tracks.map((t) => t.kind).sort(), ["audio", "video"])
    }))

  it.effect("ends a stream that gets no data for the timeout, from startup, and frees its port", () =>
    Effect.gen(function*() {
      const startedAt = Date.now()
      const started = yield* startup("silent")
      const publication = publicationOf("silent")
      const reason = yield* awaitClosed(publication)
      const seconds = (Date.now() - startedAt) / 1000
      assert.deepStrictEqual(reason, { failed: false, message: `no data for ${TIMEOUT_SECONDS}s` })
      assert.isAtLeast(seconds, TIMEOUT_SECONDS - 0.1)
      assert.isAtMost(seconds, TIMEOUT_SECONDS + 2)
      assert.deepStrictEqual((yield* post("find_all", undefined)).json, [])
      assert.isTrue(yield* portIsFree(started.port))
      assert.strictEqual((yield* post("terminate", JSON.stringify({ localStreamName: "silent" }))).status, 404)
    }))

  it.effect("measures the timeout from the last datagram, and publishes the last frame when it ends", () =>
    Effect.gen(function*() {
      const started = yield* startup("short")
      const publication = publicationOf("short")
      // ffmpeg's default datagram size (1472) cuts transport packets across datagrams.
      yield* send({ port: started.port, file: files.two, packetSize: 1472 })
      const lastDatagramAt = Date.now()
      assert.isFalse(yield* Deferred.isDone(publication.closed), "still publishing right after the send")
      const reason = yield* awaitClosed(publication)
      const seconds = (Date.now() - lastDatagramAt) / 1000
      assert.strictEqual(reason.message, `no data for ${TIMEOUT_SECONDS}s`)
      assert.isAtLeast(seconds, TIMEOUT_SECONDS - 0.5)
      assert.isAtMost(seconds, TIMEOUT_SECONDS + 2)
      // The last video PES is unbounded: only the end of the stream hands it on.
      const video = framesOf(publication, "video")
      assert.isAtMost(Math.abs(video.length - probed.two.video.length), 1)
      assert.strictEqual(video.at(-1)!.pts, probed.two.video.at(-1)!.pts)
    }))

  it.effect("keeps one publication with monotonic timestamps when the sender restarts", () =>
    Effect.gen(function*() {
      const started = yield* startup("restarted")
      yield* send({ port: started.port, file: files.two })
      yield* send({ port: started.port, file: files.two })
      const ingest = yield* MpegTsIngest
      const [view] = yield* ingest.list()
      assert.strictEqual(view!.counters.timestampJumps, 1)
      yield* post("terminate", JSON.stringify({ localStreamName: "restarted" }))
      const publication = publicationOf("restarted")
      yield* awaitClosed(publication)
      assert.deepStrictEqual(publication.tracks.map((t) => t.kind).sort(), ["audio", "video"], "declared once each")
      const video = framesOf(publication, "video")
      const audio = framesOf(publication, "audio")
      assertNonDecreasing(video, "video")
      assertNonDecreasing(audio, "audio")
      // The restart's continuity gap drops the first run's last (unbounded) video PES; UDP may lose one more.
      assert.isAtLeast(video.length, 2 * probed.two.video.length - 2)
      assert.isAtMost(video.length, 2 * probed.two.video.length)
      assert.isAtLeast(audio.length, 2 * probed.two.audio.length - 2)
      assert.isAtMost(audio.length, 2 * probed.two.audio.length)
      // One gap, where the second run begins: at a keyframe, at least the 0.3 s the sends were apart.
      const gaps = video.flatMap((f, i) => (i > 0 && f.dts - video[i - 1]!.dts >= 0.3 * 90_000 ? [i] : []))
      assert.strictEqual(gaps.length, 1)
      const second = video.slice(gaps[0])
      assert.isTrue(second[0]!.keyframe)
      // From there on the file's own spacing: every frame is one of the file's, shifted by one constant.
      const shift = second[0]!.dts - probed.two.video[0]!.dts
      const fileDts = new Set(probed.two.video.map((p) => p.dts))
      for (const f of second) assert.isTrue(fileDts.has(f.dts - shift), `second run frame at ${f.dts}`)
    }))

  it.effect("counts a malformed datagram and goes on demuxing", () =>
    Effect.gen(function*() {
      const started = yield* startup("noisy")
      const random = seededBytes(42)
      yield* sendDatagrams(started.port, [random(1316), random(500), random(1316)])
      yield* Effect.sleep(Duration.millis(200))
      const before = (yield* post("find_all", undefined)).json
      assert.isAbove(before[0].errors, 0)
      yield* send({ port: started.port, file: files.two })
      const after = (yield* post("find_all", undefined)).json
      assert.deepStrictEqual(after.map((s: any) => s.localStreamName), ["noisy"])
      assert.strictEqual(after[0].errors, before[0].errors, "the real stream added no errors")
      yield* post("terminate", JSON.stringify({ localStreamName: "noisy" }))
      const publication = publicationOf("noisy")
      yield* awaitClosed(publication)
      assert.isAtMost(Math.abs(framesOf(publication, "video").length - probed.two.video.length), 1)
    }))

  it.effect("answers 400 for a bad body or transport, 409 for a name or port in use, 404 for an unknown name", () =>
    Effect.gen(function*() {
      const cases: Array<[string | undefined, RegExp]> = [
        ["{not json", /malformed JSON/],
        ["{}", /localStreamName/],
        [JSON.stringify({ localStreamName: "" }), /localStreamName/],
        [JSON.stringify({ localStreamName: "x", transport: "tcp" }), /transport: "tcp" is not supported/],
        [JSON.stringify({ localStreamName: "x", port: 70000 }), /port/],
        [JSON.stringify({ localStreamName: "x", port: "abc" }), /port/]
      ]
      for (const [body, reason] of cases) {
        const answer = yield* post("startup", body)
        assert.strictEqual(answer.status, 400, body)
        assert.strictEqual(answer.json.error, "BadRequest")
        assert.match(answer.json.reason, reason)
        assert.strictEqual(answer.headers.get("access-control-allow-origin"), "*")
      }
      const first = yield* startup("dup")
      const again = yield* post("startup", JSON.stringify({ localStreamName: "dup", transport: "udp" }))
      assert.strictEqual(again.status, 409)
      assert.strictEqual(again.json.error, "MpegTsNameInUse")
      const samePort = yield* post("startup", JSON.stringify({ localStreamName: "other", port: first.port }))
      assert.strictEqual(samePort.status, 409)
      assert.strictEqual(samePort.json.error, "MpegTsPortInUse")
      const elsewhere = yield* post("startup", JSON.stringify({ localStreamName: "taken-elsewhere" }))
      assert.deepStrictEqual([elsewhere.status, elsewhere.json.error], [409, "MpegTsNameInUse"])
      assert.match(elsewhere.json.reason, /already publishing/)
      assert.deepStrictEqual((yield* post("find_all", undefined)).json.map((s: any) => s.localStreamName), ["dup"])

      const unknown = yield* post("terminate", JSON.stringify({ localStreamName: "nobody" }))
      assert.deepStrictEqual([unknown.status, unknown.json.error], [404, "MpegTsStreamNotFound"])
      assert.strictEqual((yield* post("terminate", "{}")).status, 400)
      assert.strictEqual((yield* post("terminate", JSON.stringify({ localStreamName: "dup" }))).status, 200)
      assert.strictEqual((yield* post("terminate", JSON.stringify({ localStreamName: "dup" }))).status, 404)
    }))
})
