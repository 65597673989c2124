/**
 * The recorder REST API over a real Node HTTP server on 127.0.0.1, called with Node's fetch. The RecorderControl
 * behind it is an in-memory table of sessions: the HTTP layer is the subject here, the actors have their own tests.
 */
import { assert, layer } from "@effect/vitest"
import { Effect, Layer } from "effect"
import {
  InvalidRecordingConfig,
  RecorderControl,
  RecorderFailure,
  SessionNotFound,
  type SessionView
} from "../src/actors/recorder-control.ts"
import { boundPort, serveHttp } from "../src/http/http-server.ts"
import { openApiPath } from "../src/http/recorder-api.ts"

const session = (mediaSessionId: string, name: string): SessionView => ({
  mediaSessionId,
  name,
  status: "PUBLISHING",
  protocol: "rtmp",
  recording: false,
  recordFile: null,
  tracks: [{ kind: "video", codec: "avc1.64001f" }, { kind: "audio", codec: "mp4a.40.2" }],
  reason: null
})

/** A session table the REST calls change, with the port's failures on cue: "broken" always fails to record. */
const inMemoryControl = Layer.sync(RecorderControl, () => {
  const sessions = new Map<string, SessionView>(
    [session("s-cam", "cam"), session("s-desk", "desk"), session("broken", "broken")].map((s) => [s.mediaSessionId, s])
  )
  const find = (mediaSessionId: string) => {
    const found = sessions.get(mediaSessionId)
    return found === undefined
      ? Effect.fail(new SessionNotFound({ mediaSessionId, reason: `no media session ${mediaSessionId}` }))
      : Effect.succeed(found)
  }
  return RecorderControl.of({
    listSessions: Effect.sync(() => [...sessions.values()]),
    listFinished: (mediaSessionId) =>
      Effect.map(find(mediaSessionId), (found) => [{ fileName: `${found.name}.mp4`, mediaSessionId, streamName: found.name }]),
    startRecording: (mediaSessionId, overrides) =>
      Effect.gen(function*() {
        const found = yield* find(mediaSessionId)
        if (overrides.rotation !== undefined && !/^(disabled|\d+[KMG]?)$/.test(overrides.rotation)) {
          return yield* new InvalidRecordingConfig({ reason: `rotation: cannot read "${overrides.rotation}"` })
        }
        if (mediaSessionId === "broken") return yield* new RecorderFailure({ reason: "muxer refused the tracks" })
        const recordFile = `${overrides.fileTemplate ?? found.name}.mp4`
        sessions.set(mediaSessionId, { ...found, recording: true, recordFile })
      }),
    stopRecording: (mediaSessionId) =>
      Effect.gen(function*() {
        const found = yield* find(mediaSessionId)
        if (mediaSessionId === "broken") return yield* new RecorderFailure({ reason: "could not finalize" })
        sessions.set(mediaSessionId, { ...found, recording: false, recordFile: null })
      }),
    listRecordings: Effect.sync(() =>
      [...sessions.values()].flatMap((s) =>
        s.recordFile === null ? [] : [{ fileName: s.recordFile, mediaSessionId: s.mediaSessionId }]
      )
    )
  })
})

const server = serveHttp({
  host: "127.0.0.1",
  port: 0,
  recordDir: "/nonexistent",
  contentDisposition: "inline",
  quiet: true
}).pipe(Layer.provide(inMemoryControl))

interface Answer {
  readonly status: number
  readonly headers: Headers
  readonly text: string
  readonly json: unknown
}

const call = (path: string, init: RequestInit = {}) =>
  Effect.flatMap(boundPort, (port) =>
    Effect.promise(async (): Promise<Answer> => {
      const response = await fetch(`http://127.0.0.1:${port}${path}`, { signal: AbortSignal.timeout(10_000), ...init })
      const text = await response.text()
      const json: unknown = response.headers.get("content-type")?.includes("json") ? JSON.parse(text) : undefined
      return { status: response.status, headers: response.headers, text, json }
    }))

const post = (path: string, body: string | undefined, contentType = "application/json") =>
  call(path, {
    method: "POST",
    ...(body === undefined ? {} : { body }),
    headers: { "content-type": contentType }
  })

const errorOf = (answer: Answer) => answer.json as { readonly error: string; readonly reason: string }

layer(server)("recorder REST API", (it) => {
  it.effect("stream/find_all lists every session for an empty body, {} or no Content-Type", () =>
    Effect.gen(function*() {
      for (const body of [undefined, "", "{}", "  \n"]) {
        const answer = yield* post("/rest-api/stream/find_all", body)
        assert.strictEqual(answer.status, 200)
        assert.strictEqual(answer.headers.get("access-control-allow-origin"), "*")
        const sessions = answer.json as ReadonlyArray<SessionView>
        assert.deepStrictEqual(sessions.map((s) => s.mediaSessionId).sort(), ["broken", "s-cam", "s-desk"])
        assert.deepStrictEqual(sessions.find((s) => s.name === "cam")?.tracks, session("x", "cam").tracks)
      }
    }))

  it.effect("stream/find_all filters by name and by mediaSessionId", () =>
    Effect.gen(function*() {
      const byName = yield* post("/rest-api/stream/find_all", JSON.stringify({ name: "desk" }))
      assert.deepStrictEqual((byName.json as ReadonlyArray<SessionView>).map((s) => s.mediaSessionId), ["s-desk"])
      const byId = yield* post("/rest-api/stream/find_all", JSON.stringify({ mediaSessionId: "s-cam" }))
      assert.deepStrictEqual((byId.json as ReadonlyArray<SessionView>).map((s) => s.name), ["cam"])
      const none = yield* post("/rest-api/stream/find_all", JSON.stringify({ name: "nobody" }))
      assert.deepStrictEqual(none.json, [])
    }))

  it.effect("recorder/startup, find_all and terminate: 200 {}, the recording listed, then gone", () =>
    Effect.gen(function*() {
      const empty = yield* post("/rest-api/recorder/find_all", undefined)
      assert.strictEqual(empty.status, 200)
      assert.deepStrictEqual(empty.json, [])

      const start = yield* post("/rest-api/recorder/startup", JSON.stringify({
        mediaSessionId: "s-cam",
        config: { fileTemplate: "test", rotation: "disabled" }
      }))
      assert.strictEqual(start.status, 200)
      assert.strictEqual(start.headers.get("access-control-allow-origin"), "*")
      assert.strictEqual(start.headers.get("content-type"), "application/json")
      assert.deepStrictEqual(start.json, {})

      const listed = yield* post("/rest-api/recorder/find_all", "{}")
      assert.deepStrictEqual(listed.json, [{ fileName: "test.mp4", mediaSessionId: "s-cam" }])
      assert.strictEqual(listed.headers.get("access-control-allow-origin"), "*")
      const filtered = yield* post("/rest-api/recorder/find_all", JSON.stringify({ mediaSessionId: "s-desk" }))
      assert.deepStrictEqual(filtered.json, [])

      const stop = yield* post("/rest-api/recorder/terminate", JSON.stringify({ mediaSessionId: "s-cam" }))
      assert.strictEqual(stop.status, 200)
      assert.deepStrictEqual(stop.json, {})
      assert.deepStrictEqual((yield* post("/rest-api/recorder/find_all", "")).json, [])
    }))

  it.effect("stream/startRecording and stopRecording are the same methods under their stream names", () =>
    Effect.gen(function*() {
      const start = yield* post("/rest-api/stream/startRecording", JSON.stringify({ mediaSessionId: "s-desk" }))
      assert.strictEqual(start.status, 200)
      const sessions = (yield* post("/rest-api/stream/find_all", JSON.stringify({ name: "desk" }))).json
      assert.deepStrictEqual(
        (sessions as ReadonlyArray<SessionView>).map((s) => [s.recording, s.recordFile]),
        [[true, "desk.mp4"]]
      )
      const stop = yield* post("/rest-api/stream/stopRecording", JSON.stringify({ mediaSessionId: "s-desk" }))
      assert.strictEqual(stop.status, 200)
      assert.strictEqual(stop.headers.get("access-control-allow-origin"), "*")
    }))

  it.effect("an unknown mediaSessionId is 404 SessionNotFound on every recording method", () =>
    Effect.gen(function*() {
      for (const path of ["recorder/startup", "recorder/terminate", "stream/startRecording", "stream/stopRecording"]) {
        const answer = yield* post(`/rest-api/${path}`, JSON.stringify({ mediaSessionId: "nobody" }))
        assert.strictEqual(answer.status, 404, path)
        assert.strictEqual(answer.headers.get("access-control-allow-origin"), "*")
        assert.deepStrictEqual(answer.json, { error: "SessionNotFound", reason: "no media session nobody" })
      }
    }))

  it.effect("a rotation the recorder cannot read is 400 InvalidRecordingConfig with its reason", () =>
    Effect.gen(function*() {
      const answer = yield* post("/rest-api/recorder/startup", JSON.stringify({
        mediaSessionId: "s-cam",
        config: { rotation: "sometimes" }
      }))
      assert.strictEqual(answer.status, 400)
      assert.deepStrictEqual(answer.json, {
        error: "InvalidRecordingConfig",
        reason: "rotation: cannot read \"sometimes\""
      })
    }))

  it.effect("a recorder failure is 500 RecorderFailure with a JSON body", () =>
    Effect.gen(function*() {
      const start = yield* post("/rest-api/recorder/startup", JSON.stringify({ mediaSessionId: "broken" }))
      assert.strictEqual(start.status, 500)
      assert.deepStrictEqual(start.json, { error: "RecorderFailure", reason: "muxer refused the tracks" })
      const stop = yield* post("/rest-api/stream/stopRecording", JSON.stringify({ mediaSessionId: "broken" }))
      assert.strictEqual(stop.status, 500)
      assert.deepStrictEqual(stop.json, { error: "RecorderFailure", reason: "could not finalize" })
    }))

  const badRequests: ReadonlyArray<{ path: string; body: string | undefined; contentType?: string; reason: RegExp }> =
    [
      { path: "recorder/startup", body: "{", reason: /^malformed JSON body: / },
      { path: "recorder/startup", body: "{\"mediaSessionId\": }", reason: /^malformed JSON body: / },
      { path: "recorder/startup", body: undefined, reason: /^mediaSessionId: Missing key, expected a string$/ },
      { path: "recorder/startup", body: "{}", reason: /^mediaSessionId: Missing key, expected a string$/ },
      { path: "recorder/startup", body: "{\"mediaSessionId\": 5}", reason: /^mediaSessionId: Expected string, got 5$/ },
      {
        path: "recorder/startup",
        body: "{\"mediaSessionId\": \"s-cam\", \"config\": 5}",
        reason: /^config: Expected object, got 5$/
      },
      {
        path: "stream/startRecording",
        body: "{\"mediaSessionId\": \"s-cam\", \"config\": {\"rotation\": 20}}",
        reason: /^config\.rotation: Expected string, got 20$/
      },
      {
        path: "recorder/startup",
        body: "{\"config\": {\"fileTemplate\": false}}",
        reason: /^mediaSessionId: Missing key.*; config\.fileTemplate: Expected string, got false$/
      },
      { path: "recorder/terminate", body: "[]", reason: /^body: Expected object, got \[\]$/ },
      { path: "recorder/terminate", body: "null", reason: /^body: Expected object, got null$/ },
      { path: "stream/stopRecording", body: "\"s-cam\"", reason: /^body: Expected object, got "s-cam"$/ },
      { path: "stream/find_all", body: "{\"name\": 1}", reason: /^name: Expected string, got 1$/ },
      { path: "recorder/find_all", body: "{\"mediaSessionId\": []}", reason: /^mediaSessionId: Expected string/ },
      {
        path: "recorder/startup",
        body: "--x\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nb\r\n--x--",
        contentType: "multipart/form-data; boundary=x",
        reason: /^malformed JSON body: .*\(Content-Type was multipart\/form-data; boundary=x\)$/
      },
      {
        path: "stream/find_all",
        body: JSON.stringify({ name: "x".repeat(100_000) }),
        reason: /^could not read the request body \(at most 65536 bytes of JSON\)$/
      }
    ]

  it.effect("client mistakes are 400 BadRequest with a JSON reason naming the field and what was expected", () =>
    Effect.gen(function*() {
      for (const { body, contentType, path, reason } of badRequests) {
        const answer = yield* post(`/rest-api/${path}`, body, contentType)
        const label = `${path} ${String(body).slice(0, 60)}`
        assert.strictEqual(answer.status, 400, label)
        assert.strictEqual(answer.headers.get("access-control-allow-origin"), "*", label)
        assert.strictEqual(errorOf(answer).error, "BadRequest", label)
        assert.match(errorOf(answer).reason, reason, label)
      }
    }))

  it.effect("a JSON body sent as form data (curl -d) is read as JSON", () =>
    Effect.gen(function*() {
      const answer = yield* post(
        "/rest-api/recorder/terminate",
        JSON.stringify({ mediaSessionId: "s-cam" }),
        "application/x-www-form-urlencoded"
      )
      assert.strictEqual(answer.status, 200)
    }))

  it.effect("a preflight on every REST path answers 204 with the allowed origin, methods and headers", () =>
    Effect.gen(function*() {
      for (const path of ["stream/find_all", "stream/startRecording", "recorder/startup", "recorder/find_all"]) {
        const answer = yield* call(`/rest-api/${path}`, {
          method: "OPTIONS",
          headers: {
            origin: "http://page.example",
            "access-control-request-method": "POST",
            "access-control-request-headers": "content-type"
          }
        })
        assert.strictEqual(answer.status, 204, path)
        assert.strictEqual(answer.headers.get("access-control-allow-origin"), "*")
        assert.include(answer.headers.get("access-control-allow-methods") ?? "", "POST")
        assert.include((answer.headers.get("access-control-allow-headers") ?? "").toLowerCase(), "content-type")
      }
    }))

  it.effect("the OpenAPI 3.1 document lists every method with its body and error answers", () =>
    Effect.gen(function*() {
      const answer = yield* call(openApiPath)
      assert.strictEqual(answer.status, 200)
      const document = answer.json as {
        openapi: string
        paths: Record<string, { post?: { requestBody?: unknown; responses: Record<string, unknown> } }>
      }
      assert.match(document.openapi, /^3\.1\./)
      const paths = [
        "/rest-api/stream/find_all",
        "/rest-api/stream/startRecording",
        "/rest-api/stream/stopRecording",
        "/rest-api/recorder/startup",
        "/rest-api/recorder/terminate",
        "/rest-api/recorder/find_all",
        "/rest-api/recorder/finished"
      ]
      assert.deepStrictEqual(Object.keys(document.paths).sort(), [...paths].sort())
      for (const path of paths) {
        const post = document.paths[path]?.post
        assert.isDefined(post?.requestBody, path)
        assert.includeMembers(Object.keys(post?.responses ?? {}), ["200", "400"], path)
      }
      assert.includeMembers(Object.keys(document.paths["/rest-api/recorder/startup"]!.post!.responses), ["404", "500"])
    }))
})
