/**
 * RTSP pull through the whole server: a GStreamer RTSP server stands in for an IP camera, /rest-api/rtsp/startup
 * pulls it, record_rtsp_streams records it, and the camera's G.711 audio is transcoded to AAC for MP4 by ffmpeg.
 * The camera dies and comes back; the same media session goes on.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { startCapstan } from "./support/capstan-process.ts"
import { countFrames, decodeErrors, probe } from "./support/ffprobe.ts"
import { startRtspCamera } from "./support/rtsp-camera.ts"
import { sleep, until } from "./support/wait.ts"

const post = async (url: string, body: unknown) => {
  const response = await fetch(url, { method: "POST", body: JSON.stringify(body) })
  return { status: response.status, json: await response.json() as any }
}

describe("RTSP pull", () => {
  it("records an H.264 + PCMA camera to MP4 with AAC, across the camera dying and coming back", async () => {
    const camera = await startRtspCamera()
    const server = await startCapstan({ stream_record_policy_template: "{streamName}", record_rtsp_streams: "true" })
    try {
      const uri = camera.url("/h264pcma")
      const started = await post(server.url("/rest-api/rtsp/startup"), { uri, localStreamName: "cam1" })
      assert.strictEqual(started.status, 200, JSON.stringify(started.json))
      const { mediaSessionId } = started.json
      assert.strictEqual((await post(server.url("/rest-api/rtsp/startup"), { uri, localStreamName: "cam2" })).status, 409)
      const unreachable = await post(server.url("/rest-api/rtsp/startup"), { uri: "rtsp://127.0.0.1:9/none", localStreamName: "cam3" })
      assert.strictEqual(unreachable.status, 502)
      assert.match(unreachable.json.reason, /unreachable/)
      await sleep(3000)
      await camera.kill()
      await sleep(1500)
      await camera.restart()
      await until("the pull to play again", async () => {
        const { json } = await post(server.url("/rest-api/rtsp/find_all"), {})
        return json[0]?.state === "PLAYING" && json[0].packets > 0 ? true : undefined
      })
      await sleep(3000)
      const listed = (await post(server.url("/rest-api/rtsp/find_all"), {})).json
      assert.strictEqual(listed[0].mediaSessionId, mediaSessionId, "the same media session across the reconnect")
      assert.strictEqual((await post(server.url("/rest-api/rtsp/terminate"), { uri })).status, 200)
      const file = await until("cam1.mp4", () => {
        const target = path.join(server.recordDir, "cam1.mp4")
        return fs.existsSync(target) ? target : undefined
      })
      const streams = probe(file).streams
      assert.deepStrictEqual(streams.map((s) => s.codec_name), ["h264", "aac"])
      assert.strictEqual(streams[1]!.sample_rate, "44100")
      assert.strictEqual(streams[1]!.channels, 2)
      assert.strictEqual(decodeErrors(file), "")
      assert.isAtLeast(countFrames(file, 0), 100, "video from before and after the camera restart")
      const [video, audio] = streams.map((s) => Number(s.duration))
      assert.isAtMost(Math.abs(video! - audio!), 0.5, `audio ${audio} s follows video ${video} s`)
    } finally {
      await server.stop()
      await camera.stop()
    }
  })
})
