/**
 * Capstan embedded as a Layer in another Effect program: the program provides Capstan.layer, publishes to it
 * with ffmpeg and finds the recording, then closes the scope, which stops the servers.
 */
import * as fs from "node:fs"
import * as net from "node:net"
import * as path from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { Capstan } from "../src/index.ts"
import { freePort, tempDir } from "./support/capstan-process.ts"
import { ffmpegPublish } from "./support/ffmpeg-publish.ts"
import { countFrames } from "./support/ffprobe.ts"

const canConnect = (port: number) =>
  new Promise<boolean>((resolve) => {
    const socket = net.connect(port, "127.0.0.1")
    socket.once("connect", () => (socket.destroy(), resolve(true)))
    socket.once("error", () => resolve(false))
  })

describe("Capstan.layer", () => {
  it.live("runs the whole recorder inside another Effect program", () =>
    Effect.gen(function*() {
      const dir = tempDir("layer")
      const [httpPort, rtmpPort] = yield* Effect.promise(() => Promise.all([freePort(), freePort()]))
      const layer = Capstan.layer({
        properties: {
          bind_address: "127.0.0.1",
          http_port: String(httpPort),
          rtmp_port: String(rtmpPort),
          record_dir: path.join(dir, "records"),
          file_recorder_min_space: "1m",
          stream_record_policy_template: "{streamName}"
        }
      })
      yield* Effect.gen(function*() {
        const capstan = yield* Capstan
        assert.strictEqual(capstan.rtmpPort, rtmpPort)
        const published = yield* Effect.promise(() =>
          ffmpegPublish({ url: `rtmp://127.0.0.1:${rtmpPort}/live/embedded`, seconds: 2 })
        )
        assert.strictEqual(published.code, 0, published.stderr)
        const file = path.join(capstan.recordDir, "embedded.mp4")
        for (let i = 0; i < 100 && !fs.existsSync(file); i++) yield* Effect.sleep("100 millis")
        assert.strictEqual(countFrames(file, 0), 60)
        const sessions = capstan.sessions.all()
        assert.strictEqual(sessions.length, 1)
        assert.strictEqual(sessions[0]!.request.streamName, "embedded")
      }).pipe(Effect.provide(layer), Effect.scoped)
      assert.isFalse(yield* Effect.promise(() => canConnect(rtmpPort)), "the RTMP server stops with the scope")
      assert.isFalse(yield* Effect.promise(() => canConnect(httpPort)), "the HTTP server stops with the scope")
    }))
})
