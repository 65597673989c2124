/**
 * MPEG-TS over UDP through the whole server: /rest-api/mpegts/startup opens a port, real ffmpeg sends a TS file
 * to it, the stream ends after mpegts_stream_timeout of silence, and the recording holds every frame sent.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { startCapstan } from "./support/capstan-process.ts"
import { countFrames, decodeErrors, probe } from "./support/ffprobe.ts"
import { encodeMpegTs, startMpegTsSender } from "./support/mpegts-sender.ts"
import { until } from "./support/wait.ts"

const post = async (url: string, body: unknown) => {
  const response = await fetch(url, { method: "POST", body: JSON.stringify(body) })
  return { status: response.status, json: await response.json() as any }
}

describe("MPEG-TS over UDP", () => {
  it("records a stream sent to the port /rest-api/mpegts/startup opened, ending it after the timeout", async () => {
    const server = await startCapstan({ stream_record_policy_template: "{streamName}", mpegts_stream_timeout: "2" })
    try {
      const source = encodeMpegTs(path.join(server.dir, "source.ts"), { seconds: 4, gop: 30 })
      const started = await post(server.url("/rest-api/mpegts/startup"), { localStreamName: "tscam", transport: "udp" })
      assert.strictEqual(started.status, 200, JSON.stringify(started.json))
      assert.strictEqual(started.json.localStreamName, "tscam")
      const taken = await post(server.url("/rest-api/mpegts/startup"), { localStreamName: "tscam", transport: "udp" })
      assert.strictEqual(taken.status, 409)
      assert.strictEqual((await post(server.url("/rest-api/mpegts/startup"), { localStreamName: "x", transport: "srt" })).status, 400)
      const listed = await post(server.url("/rest-api/mpegts/find_all"), {})
      assert.deepInclude(listed.json[0], { localStreamName: "tscam", port: started.json.port, mediaSessionId: started.json.mediaSessionId })
      const sender = startMpegTsSender({ port: started.json.port, file: source })
      assert.strictEqual((await sender.done).code, 0)
      const file = await until("tscam.mp4", () => {
        const target = path.join(server.recordDir, "tscam.mp4")
        return fs.existsSync(target) ? target : undefined
      }, 20_000)
      assert.deepStrictEqual(probe(file).streams.map((s) => s.codec_name), ["h264", "aac"])
      // The last access unit of an unbounded video PES is handed on when the stream ends.
      assert.isAtLeast(countFrames(file, 0), countFrames(source, 0) - 1)
      assert.strictEqual(decodeErrors(file), "")
      const sessions = await post(server.url("/rest-api/stream/find_all"), { name: "tscam" })
      assert.strictEqual(sessions.json[0].protocol, "MPEGTS")
      assert.strictEqual(sessions.json[0].status, "UNPUBLISHED")
      assert.strictEqual((await post(server.url("/rest-api/mpegts/terminate"), { localStreamName: "tscam" })).status, 404)
    } finally {
      await server.stop()
    }
  })
})
