/**
 * The RTSP REST endpoints over a real HTTP server on 127.0.0.1, with the real RtspPulls pulling a GStreamer camera:
 * statuses and JSON bodies of startup, find_all and terminate, and credentials never echoed.
 */
import { assert, describe, it } from "@effect/vitest"
import * as net from "node:net"
import { Effect, Layer } from "effect"
import { boundPort, corsRoutes, serveRoutes } from "../src/http/http-server.ts"
import { rtspApiRoutes } from "../src/http/rtsp-api.ts"
import { RtspPulls } from "../src/protocols/rtsp/rtsp-pulls.ts"
import { makeCollectingPublisher } from "./fixtures/rtmp/collecting-publisher.ts"
import { freePort } from "./support/capstan-process.ts"
import { rtspCamera } from "./support/rtsp-camera.ts"

interface Answer {
  readonly status: number
  readonly cors: string | null
  readonly body: any
}

const post = (port: number, path: string, body: string) =>
  Effect.promise(async (): Promise<Answer> => {
    const response = await fetch(`http://127.0.0.1:${port}/rest-api/rtsp/${path}`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body
    })
    const cors = response.headers.get("access-control-allow-origin")
    return { status: response.status, cors, body: await response.json() }
  })

/** A TCP server that accepts connections and never says a word: a camera that hangs. */
const silentServer = Effect.acquireRelease(
  Effect.promise(() =>
    new Promise<net.Server>((resolve) => {
      const server = net.createServer(() => {})
      server.listen(0, "127.0.0.1", () => resolve(server))
    })
  ),
  (server) => Effect.sync(() => server.close())
)

describe("POST /rest-api/rtsp/*", () => {
  it.live("starts, lists and terminates pulls, with a status and reason for every refusal", () =>
    Effect.gen(function*() {
      const camera = yield* rtspCamera()
      const silent = yield* silentServer
      const nobody = yield* Effect.promise(() => freePort())
      const publisher = makeCollectingPublisher()
      const server = serveRoutes(Layer.mergeAll(rtspApiRoutes, corsRoutes), { host: "127.0.0.1", port: 0, quiet: true })
        .pipe(
          Layer.provide(
            RtspPulls.layer({ record: false, startupTimeout: "1500 millis", udpBindAddress: "127.0.0.1" }).pipe(
              Layer.provide(publisher.layer)
            )
          )
        )
      yield* Effect.gen(function*() {
        const port = yield* boundPort
        const withCredentials = camera.url("/h264aac", "viewer:hunter2")

        const started = yield* post(port, "startup", JSON.stringify({ uri: withCredentials, localStreamName: "cam1" }))
        assert.deepStrictEqual(started, { status: 200, cors: "*", body: { mediaSessionId: "test-1" } })

        const listed = yield* post(port, "find_all", "")
        assert.strictEqual(listed.status, 200)
        assert.strictEqual(listed.body.length, 1)
        assert.deepInclude(listed.body[0], {
          uri: camera.url("/h264aac"),
          localStreamName: "cam1",
          mediaSessionId: "test-1",
          state: "PLAYING",
          transport: "tcp"
        })
        assert.notInclude(JSON.stringify(listed.body), "hunter2")

        const startup = (body: object) => post(port, "startup", JSON.stringify(body))
        const again = yield* startup({ uri: camera.url("/h264aac"), localStreamName: "o" })
        assert.strictEqual(again.status, 409)
        assert.strictEqual(again.body.error, "RtspAlreadyPulled")

        const missing = yield* post(port, "startup", JSON.stringify({ localStreamName: "x" }))
        assert.strictEqual(missing.status, 400)
        assert.strictEqual(missing.body.error, "BadRequest")
        assert.include(missing.body.reason, "uri")

        const http = yield* post(port, "startup", JSON.stringify({ uri: "http://127.0.0.1/", localStreamName: "x" }))
        assert.deepStrictEqual([http.status, http.body.error], [400, "BadRequest"])

        const notJson = yield* post(port, "startup", "{uri:")
        assert.deepStrictEqual([notJson.status, notJson.body.error], [400, "BadRequest"])

        const refused = yield* post(port, "startup", JSON.stringify({
          uri: `rtsp://admin:hunter2@127.0.0.1:${nobody}/live`,
          localStreamName: "down"
        }))
        assert.deepStrictEqual(refused, {
          status: 502,
          cors: "*",
          body: {
            error: "CameraUnreachable",
            reason: `camera rtsp://127.0.0.1:${nobody}/live unreachable: connection refused`
          }
        })

        const hung = yield* post(port, "startup", JSON.stringify({
          uri: `rtsp://127.0.0.1:${(silent.address() as net.AddressInfo).port}/cam`,
          localStreamName: "hung"
        }))
        assert.deepStrictEqual([hung.status, hung.body.error], [504, "CameraTimeout"])

        const unknownPath = yield* startup({ uri: camera.url("/no"), localStreamName: "y" })
        assert.deepStrictEqual([unknownPath.status, unknownPath.body.error], [502, "CameraStreamNotFound"])

        const stopped = yield* post(port, "terminate", JSON.stringify({ uri: withCredentials }))
        assert.deepStrictEqual([stopped.status, stopped.body], [200, {}])
        const stoppedAgain = yield* post(port, "terminate", JSON.stringify({ uri: camera.url("/h264aac") }))
        assert.deepStrictEqual([stoppedAgain.status, stoppedAgain.body.error], [404, "RtspPullNotFound"])
        assert.deepStrictEqual((yield* post(port, "find_all", "{}")).body, [])
      }).pipe(Effect.provide(server))
      assert.strictEqual(publisher.publications.length, 1)
    }).pipe(Effect.scoped))
})
