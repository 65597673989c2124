/**
 * The REST API and downloads against the real server and a real ffmpeg publisher: start and stop a recording on
 * demand, list sessions and recordings, the 400/404 answers, and serving the finished file with ranges.
 */
import * as fs from "node:fs"
import * as http from "node:http"
import * as path from "node:path"
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import { type CapstanProcess, startCapstan } from "./support/capstan-process.ts"
import { type RunningPublish, startPublish } from "./support/ffmpeg-publish.ts"
import { countFrames, decodeErrors, probe } from "./support/ffprobe.ts"
import { until } from "./support/wait.ts"

const post = async (server: CapstanProcess, pathname: string, body?: unknown, raw?: string) => {
  const response = await fetch(server.url(pathname), {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: raw ?? (body === undefined ? undefined : JSON.stringify(body))
  })
  const text = await response.text()
  return { status: response.status, cors: response.headers.get("access-control-allow-origin"), json: text ? JSON.parse(text) : undefined }
}

/** A GET with the path sent exactly as written (fetch would normalise `..` and escapes). */
const rawGet = (server: CapstanProcess, rawPath: string, headers: Record<string, string> = {}) =>
  new Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer }>((resolve, reject) => {
    const request = http.request({ host: "127.0.0.1", port: server.httpPort, path: rawPath, headers }, (response) => {
      const chunks: Array<Buffer> = []
      response.on("data", (chunk: Buffer) => chunks.push(chunk))
      response.on("end", () => resolve({ status: response.statusCode!, headers: response.headers, body: Buffer.concat(chunks) }))
    })
    request.on("error", reject)
    request.end()
  })

describe("recorder REST API end to end", () => {
  let server: CapstanProcess
  let publisher: RunningPublish
  let mediaSessionId: string

  beforeAll(async () => {
    server = await startCapstan({ stream_record_policy_template: "{streamName}" })
    // Recording is off for this publication (?record=false); the REST API turns it on.
    publisher = startPublish({ url: `rtmp://127.0.0.1:${server.rtmpPort}/live/cam?record=false`, seconds: 12, realtime: true })
    mediaSessionId = await until("the session", async () => {
      const { json } = await post(server, "/rest-api/stream/find_all", {})
      const session = json?.find((s: any) => s.name === "cam" && s.status === "PUBLISHING" && s.tracks.length === 2)
      return session?.mediaSessionId
    })
  })
  afterAll(async () => {
    publisher?.kill("SIGKILL")
    await server?.stop()
  })

  it("lists the publishing session, not recording", async () => {
    const { status, cors, json } = await post(server, "/rest-api/stream/find_all")
    assert.strictEqual(status, 200)
    assert.strictEqual(cors, "*")
    const session = json.find((s: any) => s.mediaSessionId === mediaSessionId)
    assert.deepInclude(session, { name: "cam", status: "PUBLISHING", protocol: "RTMP", recording: false, recordFile: null })
    assert.deepStrictEqual(session.tracks.map((t: any) => t.codec), ["H264", "AAC"])
  })

  it("answers 400 with a reason for malformed JSON, a bad body and a bad rotation, 404 for an unknown session", async () => {
    const malformed = await post(server, "/rest-api/recorder/startup", undefined, "{nope")
    assert.strictEqual(malformed.status, 400)
    assert.match(malformed.json.reason, /JSON/)
    const missing = await post(server, "/rest-api/recorder/startup", { config: {} })
    assert.strictEqual(missing.status, 400)
    assert.match(missing.json.reason, /mediaSessionId/)
    const rotation = await post(server, "/rest-api/stream/startRecording", { mediaSessionId, config: { rotation: "sometimes" } })
    assert.strictEqual(rotation.status, 400)
    assert.match(rotation.json.reason, /config\.rotation/)
    const template = await post(server, "/rest-api/recorder/startup", { mediaSessionId, config: { fileTemplate: "{nope}" } })
    assert.strictEqual(template.status, 400)
    assert.match(template.json.reason, /fileTemplate/)
    for (const endpoint of ["/rest-api/recorder/startup", "/rest-api/recorder/terminate", "/rest-api/stream/stopRecording"]) {
      const unknown = await post(server, endpoint, { mediaSessionId: "00000000-0000-0000-0000-000000000000" })
      assert.strictEqual(unknown.status, 404, endpoint)
      assert.strictEqual(unknown.json.error, "SessionNotFound")
    }
  })

  it("records on demand with the request's template, lists it, stops it, and serves the file with ranges", async () => {
    const started = await post(server, "/rest-api/recorder/startup", {
      mediaSessionId,
      config: { fileTemplate: "ondemand-{streamName}-{endTime}", rotation: "disabled" }
    })
    assert.strictEqual(started.status, 200)
    assert.strictEqual(started.cors, "*")
    const listed = await until("the recording in /recorder/find_all", async () => {
      const { json } = await post(server, "/rest-api/recorder/find_all")
      return json?.find((r: any) => r.mediaSessionId === mediaSessionId)
    })
    // The end time is unknown while the file is open, so its tag stays in the name, as in the manual.
    assert.strictEqual(listed.fileName, "ondemand-cam-{endTime}.mp4")
    const session = (await post(server, "/rest-api/stream/find_all")).json.find((s: any) => s.mediaSessionId === mediaSessionId)
    assert.isTrue(session.recording)
    await new Promise((resolve) => setTimeout(resolve, 3000))
    const stopped = await post(server, "/rest-api/recorder/terminate", { mediaSessionId })
    assert.strictEqual(stopped.status, 200)
    const name = await until("the finished file", async () =>
      fs.readdirSync(server.recordDir).find((file) => /^ondemand-cam-\d+\.mp4$/.test(file)))
    const file = path.join(server.recordDir, name)
    await until("finalized", async () => (probe(file).streams.length === 2 ? true : undefined))
    assert.strictEqual(decodeErrors(file), "")
    const frames = countFrames(file, 0)
    assert.isAtLeast(frames, 60, "about three seconds of 30 fps video")
    assert.isAtMost(frames, 150)
    const finished = await post(server, "/rest-api/recorder/finished", { mediaSessionId })
    assert.strictEqual(finished.status, 200)
    assert.deepStrictEqual(finished.json[0], { fileName: name, mediaSessionId, streamName: "cam" })
    const idle = (await post(server, "/rest-api/recorder/find_all")).json
    assert.isUndefined(idle.find((r: any) => r.mediaSessionId === mediaSessionId))

    const bytes = fs.readFileSync(file)
    const whole = await rawGet(server, `/client/records/${encodeURIComponent(name)}`)
    assert.strictEqual(whole.status, 200)
    assert.strictEqual(whole.headers["content-type"], "video/mp4")
    assert.strictEqual(whole.headers["content-disposition"], `inline;filename="${name}"`)
    assert.isTrue(whole.body.equals(bytes))
    const part = await rawGet(server, `/client/records/${encodeURIComponent(name)}`, { Range: "bytes=100-199" })
    assert.strictEqual(part.status, 206)
    assert.strictEqual(part.headers["content-range"], `bytes 100-199/${bytes.length}`)
    assert.isTrue(part.body.equals(bytes.subarray(100, 200)))

    // A time range is cut from the MP4 without re-encoding, stored next to it, and sent again when asked again.
    const base = name.replace(/\.mp4$/, "")
    const cut = await rawGet(server, `/client/records/${encodeURIComponent(name)}?start=1&end=2`)
    assert.strictEqual(cut.status, 200)
    assert.strictEqual(cut.headers["content-disposition"], `inline;filename="${base}-s1-e2.mp4"`)
    const stored = path.join(server.recordDir, `${base}-s1-e2.mp4`)
    assert.isTrue(cut.body.equals(fs.readFileSync(stored)))
    assert.strictEqual(decodeErrors(stored), "")
    const cutDuration = Number(probe(stored).format.duration)
    assert.isAtLeast(cutDuration, 1)
    assert.isAtMost(cutDuration, 2.1, "starts at the keyframe at or before 1 s (GOP 1 s)")
    const mtime = fs.statSync(stored).mtimeMs
    assert.strictEqual((await rawGet(server, `/client/records/${encodeURIComponent(name)}?start=1&end=2`)).status, 200)
    assert.strictEqual(fs.statSync(stored).mtimeMs, mtime, "the stored cut is reused")
    const bad = await rawGet(server, `/client/records/${encodeURIComponent(name)}?start=5&end=2`)
    assert.strictEqual(bad.status, 400)
  })

  it("refuses every path out of record_dir", async () => {
    fs.symlinkSync("/etc/passwd", path.join(server.recordDir, "link.mp4"))
    for (const attempt of [
      "/client/records/..%2f..%2fetc%2fpasswd",
      "/client/records/%2e%2e%2fcapstan.properties",
      "/client/records/..%252fcapstan.properties",
      "/client/records/..%5ccapstan.properties",
      "/client/records/link.mp4",
      "/client/records/%00cam.mp4"
    ]) {
      const response = await rawGet(server, attempt)
      assert.strictEqual(response.status, 404, attempt)
      assert.notInclude(response.body.toString(), "root:", attempt)
    }
  })

  it("publishes an OpenAPI document of the REST API", async () => {
    const response = await fetch(server.url("/rest-api/openapi.json"))
    assert.strictEqual(response.status, 200)
    const document = await response.json() as any
    assert.match(document.openapi, /^3\.1/)
    for (const route of ["/rest-api/recorder/startup", "/rest-api/recorder/terminate", "/rest-api/recorder/find_all",
      "/rest-api/stream/startRecording", "/rest-api/stream/stopRecording", "/rest-api/stream/find_all"]) {
      assert.property(document.paths, route)
    }
  })

  it("refuses to record a session that is no longer publishing", async () => {
    publisher.kill("SIGTERM")
    await until("the session to end", async () => {
      const { json } = await post(server, "/rest-api/stream/find_all")
      const session = json.find((s: any) => s.mediaSessionId === mediaSessionId)
      return session.status === "PUBLISHING" ? undefined : session
    })
    const response = await post(server, "/rest-api/recorder/startup", { mediaSessionId })
    assert.strictEqual(response.status, 404)
    assert.match(response.json.reason, /UNPUBLISHED|FAILED/)
  })
})
