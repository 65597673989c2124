/**
 * The offline mix end to end, with real ffmpeg, judged by ffprobe and by the pixels and sound of the mixed file:
 * three participants (alice from the start, bob joining at 2 s, carol at 0.5-2 s and again at 4-5.5 s) make a grid
 * that changes on the frame where someone joins or leaves; audio follows each track's own times; names are drawn;
 * the callback reaches an HTTP server on 127.0.0.1; the disk guard refuses to start and stops a running mix so that
 * the file written so far plays.
 */
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as http from "node:http"
import type { AddressInfo } from "node:net"
import * as path from "node:path"
import { NodeServices } from "@effect/platform-node"
import { assert, beforeAll, describe, it } from "@effect/vitest"
import { Duration, Effect, Exit, Fiber, Layer, Ref, References } from "effect"
import { FetchHttpClient } from "effect/http"
import { defaultMixerSettings, type MixerSettings } from "../src/mixer/mixer-settings.ts"
import { mixedPathOf, mixMultiRecording } from "../src/mixer/offline-mixer.ts"
import { DiskSpace } from "../src/pipelines/disk-guard.ts"
import { buildMultiRecording, fixtureDir, stream } from "./fixtures/mixer/multi-recording.ts"
import { decodeErrors, probe } from "./support/ffprobe.ts"

const W = 640
const H = 360
const tools = { ffmpeg: "/usr/bin/ffmpeg", ffprobe: "/usr/bin/ffprobe" }
const settings: MixerSettings = {
  ...defaultMixerSettings,
  outputWidth: W,
  outputHeight: H,
  minAvailableSpace: 1024 * 1024,
  multithreading: true,
  threadCount: 2
}

/** The Node services, the disk and an HTTP client; info logs are left out of the test output. */
const layers = (disk: Layer.Layer<DiskSpace> = DiskSpace.layer) =>
  Layer.mergeAll(NodeServices.layer, disk, FetchHttpClient.layer, Layer.succeed(References.MinimumLogLevel, "Warn"))

const run = (args: ReadonlyArray<string>) => {
  const result = spawnSync(args[0]!, args.slice(1), { timeout: 60_000, maxBuffer: 64 * 1024 * 1024 })
  if (result.status !== 0) throw new Error(`${args.join(" ")}: ${result.stderr}`)
  return result
}

/** The frame shown at `t` seconds, as W x H rgb24. */
const frameAt = (file: string, t: number): Buffer =>
  run([
    "ffmpeg", "-v", "error", "-ss", String(t), "-i", file, "-frames:v", "1", "-f", "rawvideo", "-pix_fmt", "rgb24", "-"
  ]).stdout

type Colour = "red" | "lime" | "blue" | "black" | "other"

const colourAt = (frame: Buffer, x: number, y: number): Colour => {
  const i = (y * W + x) * 3
  const [r, g, b] = [frame[i]!, frame[i + 1]!, frame[i + 2]!]
  if (r < 40 && g < 40 && b < 40) return "black"
  if (r > 180 && g < 80 && b < 80) return "red"
  if (g > 180 && r < 80 && b < 80) return "lime"
  if (b > 180 && r < 80 && g < 80) return "blue"
  return "other"
}

/** Pixels brighter than 200 on every channel in a rectangle (drawn text is white). */
const whitePixels = (frame: Buffer, x0: number, y0: number, x1: number, y1: number): number => {
  let count = 0
  for (let y = y0; y < y1; y++) {
    for (let x = x0; x < x1; x++) {
      const i = (y * W + x) * 3
      if (frame[i]! > 200 && frame[i + 1]! > 200 && frame[i + 2]! > 200) count++
    }
  }
  return count
}

/** Mean volume in dB of one frequency band of the mix in [from, to). */
const bandVolume = (file: string, hz: number, from: number, to: number): number => {
  const result = spawnSync("ffmpeg", [
    "-v", "info", "-ss", String(from), "-t", String(to - from), "-i", file, "-vn",
    "-af", `bandpass=f=${hz}:width_type=h:w=40,bandpass=f=${hz}:width_type=h:w=40,volumedetect`, "-f", "null", "-"
  ], { encoding: "utf8", timeout: 60_000 })
  const match = /mean_volume: (-?[\d.]+|-inf) dB/.exec(result.stderr)
  if (match === null) throw new Error(result.stderr)
  return match[1] === "-inf" ? -200 : Number(match[1])
}

const participants = [
  ...stream("s-alice", "alice", 0, 6, { color: "red", frequency: 440 }),
  ...stream("s-bob", "bob", 2, 4, { color: "blue", size: "160x120", frequency: 660 }),
  ...stream("s-carol", "carol", 0.5, 1.5, { color: "lime", frequency: 880 }),
  ...stream("s-carol", "carol", 4, 1.5, { color: "lime", frequency: 880 })
]

interface Received {
  readonly contentType: string | undefined
  readonly body: any
}

/** An HTTP server on 127.0.0.1 that keeps what is POSTed to it. */
const callbackServer = () =>
  new Promise<{ url: string; received: Array<Received>; close: () => void }>((resolve) => {
    const received: Array<Received> = []
    const server = http.createServer((request, response) => {
      const chunks: Array<Buffer> = []
      request.on("data", (chunk: Buffer) => chunks.push(chunk))
      request.on("end", () => {
        received.push({
          contentType: request.headers["content-type"],
          body: JSON.parse(Buffer.concat(chunks).toString("utf8"))
        })
        response.writeHead(200).end()
      })
    })
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as AddressInfo
      resolve({ url: `http://127.0.0.1:${port}/multiRecorderCallback`, received, close: () => server.close() })
    })
  })

describe("mixing a multi-recording where people join, leave and come back", () => {
  let input = ""
  let withLabels = ""
  let labelsFrame3s: Buffer
  let callback: Array<Received> = []
  const started = Date.now()

  beforeAll(async () => {
    input = buildMultiRecording(path.join(fixtureDir("mix"), "multi-recorder___room.mp4"), participants, {
      creationTime: "2022-01-14T02:51:16Z"
    })
    const server = await callbackServer()
    try {
      const result = await Effect.runPromise(mixMultiRecording({
        file: input,
        settings: { ...settings, callbackUrl: server.url },
        tools,
        progress: false
      }).pipe(Effect.provide(layers())))
      withLabels = result.output
      callback = server.received
      labelsFrame3s = frameAt(withLabels, 3)
    } finally {
      server.close()
    }
  }, 180_000)

  it("writes {name}_mixed.mp4 next to the input, one H.264 and one AAC stream, as long as the input", () => {
    assert.strictEqual(withLabels, path.join(path.dirname(input), "multi-recorder___room_mixed.mp4"))
    const probed = probe(withLabels)
    const kinds = probed.streams.map((s) => [s.codec_type, s.codec_name])
    assert.deepStrictEqual(kinds, [["video", "h264"], ["audio", "aac"]])
    assert.deepInclude(probed.streams[0], { width: W, height: H })
    assert.approximately(Number(probed.format.duration), 6, 0.1)
    assert.strictEqual(decodeErrors(withLabels), "")
  })

  it.each([
    { t: 0.25, cells: [[320, 180, "red"], [40, 180, "black"]] },
    { t: 1, cells: [[160, 180, "red"], [480, 180, "lime"]] },
    { t: 1.9, cells: [[160, 180, "red"], [480, 180, "lime"]] },
    { t: 2.1, cells: [[160, 180, "red"], [480, 180, "blue"]] },
    { t: 3, cells: [[160, 180, "red"], [480, 180, "blue"]] },
    { t: 4.75, cells: [[160, 90, "red"], [480, 90, "lime"], [320, 270, "blue"]] },
    { t: 5.75, cells: [[160, 180, "red"], [480, 180, "blue"]] }
  ])("shows the grid of who is present at $t s", ({ t, cells }) => {
    const frame = frameAt(withLabels, t)
    for (const [x, y, colour] of cells) {
      assert.strictEqual(colourAt(frame, x as number, y as number), colour, `(${x},${y})`)
    }
  })

  it("mixes each voice only while its stream is there (bob from 2 s, carol 0.5-2 s and 4-5.5 s)", () => {
    const [carolWith, carolWithout] = [bandVolume(withLabels, 880, 0.7, 1.8), bandVolume(withLabels, 880, 2.2, 3.8)]
    const [bobWithout, bobWith] = [bandVolume(withLabels, 660, 0.2, 1.8), bandVolume(withLabels, 660, 2.2, 3.8)]
    const carolBack = bandVolume(withLabels, 880, 4.2, 5.3)
    assert.isAbove(carolWith - carolWithout, 15, `880 Hz: ${carolWith} dB with carol, ${carolWithout} dB without`)
    assert.isAbove(carolBack - carolWithout, 15, `880 Hz: ${carolBack} dB when carol is back`)
    assert.isAbove(bobWith - bobWithout, 15, `660 Hz: ${bobWith} dB with bob, ${bobWithout} dB before he joins`)
    assert.isAbove(bandVolume(withLabels, 440, 0.2, 5.8), carolWithout + 15, "alice's 440 Hz all along")
  })

  it("draws each participant's name at the bottom of its cell", () => {
    assert.isAbove(whitePixels(labelsFrame3s, 0, 320, 160, 360), 20, "alice's label")
    assert.isAbove(whitePixels(labelsFrame3s, 320, 320, 480, 360), 20, "bob's label")
  })

  it("POSTs the manual's callback JSON after the mix", () => {
    assert.strictEqual(callback.length, 1)
    const { contentType, body } = callback[0]!
    assert.match(contentType ?? "", /^application\/json/)
    assert.deepStrictEqual(Object.keys(body).sort(), [
      "mixerParams", "multiRecorderCreationModificationTime", "multiRecorderDurationInMS", "multiRecorderFilePath",
      "recorderUri"
    ])
    assert.strictEqual(body.multiRecorderCreationModificationTime, 3_724_973_476)
    assert.approximately(body.multiRecorderDurationInMS, 6000, 60)
    assert.strictEqual(body.multiRecorderFilePath, input)
    assert.strictEqual(body.recorderUri, "multi-recorder://room")
    assert.strictEqual(body.mixerParams.length, 1)
    const mixed = body.mixerParams[0]
    assert.strictEqual(mixed.path, withLabels)
    assert.approximately(mixed.durationInMs, 6000, 100)
    const mp4Now = Math.floor(Date.now() / 1000) + 2_082_844_800
    assert.isTrue(mixed.creationModificationTime >= Math.floor(started / 1000) + 2_082_844_800 - 2)
    assert.isTrue(mixed.creationModificationTime <= mp4Now)
  })

  it.live("leaves names out with mixerDisplayStreamName false, and audio out with hasAudio false", () =>
    Effect.gen(function*() {
      const copy = path.join(fixtureDir("mix-plain"), "plain.mp4")
      fs.copyFileSync(input, copy)
      const result = yield* mixMultiRecording({
        file: copy,
        settings: { ...settings, mixerDisplayStreamName: false, hasAudio: false },
        tools,
        progress: false
      })
      const probed = probe(result.output)
      assert.deepStrictEqual(probed.streams.map((s) => s.codec_type), ["video"])
      const frame = frameAt(result.output, 3)
      assert.strictEqual(whitePixels(frame, 0, 320, 480, 360), 0)
      assert.strictEqual(colourAt(frame, 480, 180), "blue")
      assert.isFalse(frame.equals(labelsFrame3s))
    }).pipe(Effect.provide(layers())), 120_000)
})

describe("the disk guard of the mix", () => {
  it.live("refuses to start below minAvailableSpace, naming the space and the limit", () =>
    Effect.gen(function*() {
      const input = buildMultiRecording(path.join(fixtureDir("mix-full"), "full.mp4"), stream("a", "a", 0, 1))
      const exit = yield* Effect.exit(mixMultiRecording({
        file: input,
        settings: { ...settings, minAvailableSpace: 2 ** 52 },
        tools,
        progress: false
      }))
      assert.isTrue(Exit.isFailure(exit))
      const message = JSON.stringify(exit)
      assert.match(message, /NotEnoughDiskSpace/)
      assert.match(message, /Not enough available disk space: [\d.]+ [GM]iB free in .*mix-full.*, /)
      assert.match(message, /minAvailableSpace is 4194304\.0 GiB; mixing not started/)
      assert.isFalse(fs.existsSync(mixedPathOf(input)))
    }).pipe(Effect.provide(layers())), 60_000)

  it.live("stops a running mix when space runs low and leaves a file that plays", () =>
    Effect.gen(function*() {
      const input = buildMultiRecording(
        path.join(fixtureDir("mix-stop"), "long.mp4"),
        stream("a", "a", 0, 60, { size: "320x240" })
      )
      const output = mixedPathOf(input)
      const free = yield* Ref.make(Number.MAX_SAFE_INTEGER)
      // The disk "fills" once ffmpeg has written its first 100 KB.
      const filler = yield* Effect.gen(function*() {
        while (!fs.existsSync(output) || fs.statSync(output).size < 100_000) yield* Effect.sleep("100 millis")
        yield* Ref.set(free, 1000)
      }).pipe(Effect.timeout("60 seconds"), Effect.forkChild)
      const exit = yield* Effect.exit(mixMultiRecording({
        file: input,
        settings,
        tools,
        progress: false,
        diskCheckPeriod: Duration.millis(100)
      }).pipe(Effect.provide(DiskSpace.layerTest(free))))
      yield* Fiber.join(filler)
      assert.isTrue(Exit.isFailure(exit))
      const message = /Not enough available disk space: .*mixing stopped, .*long_mixed\.mp4 holds what was mixed/
      assert.match(JSON.stringify(exit), message)
      const duration = Number(probe(output).format.duration)
      assert.isAbove(duration, 0.5)
      assert.isBelow(duration, 59)
      assert.strictEqual(decodeErrors(output), "")
    }).pipe(Effect.provide(layers())), 120_000)
})
