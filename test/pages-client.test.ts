/**
 * The example pages over real HTTP: the pages and their scripts with the right content types, unknown names 404,
 * and `/rest-api/records/find_all` listing exactly the finished recordings of record_dir, newest first.
 */
import { NodeServices } from "@effect/platform-node"
import { afterAll, assert, describe, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { clientPageRoutes, isRecordFileName } from "../src/http/client-pages.ts"
import { boundPort, serveRoutes } from "../src/http/http-server.ts"

const root = mkdtempSync(join(tmpdir(), "capstan-pages-"))
const recordDir = join(root, "records")
mkdirSync(recordDir)
afterAll(() => rmSync(root, { recursive: true, force: true }))

const server = (dir: string) =>
  serveRoutes(clientPageRoutes({ recordDir: dir }), { host: "127.0.0.1", port: 0, quiet: true }).pipe(
    Layer.provide(NodeServices.layer)
  )

const get = (path: string, init: RequestInit = {}) =>
  Effect.flatMap(boundPort, (port) =>
    Effect.promise(() =>
      fetch(`http://127.0.0.1:${port}${path}`, { ...init, signal: AbortSignal.timeout(10_000) }).then((response) =>
        response.text().then((body) => ({ status: response.status, type: response.headers.get("content-type"), body }))
      )
    ))

const findAll = (body = "{}") =>
  get("/rest-api/records/find_all", { method: "POST", headers: { "content-type": "application/json" }, body })

describe("example pages", () => {
  it.live("serves the recording and records pages, their scripts and style, with their content types", () =>
    Effect.gen(function*() {
      const cases = [
        ["/client/examples/recording", "text/html; charset=utf-8", "<title>Stream Recording</title>"],
        ["/client/examples/records", "text/html; charset=utf-8", "<title>Recordings</title>"],
        ["/client/examples/recording.js", "text/javascript; charset=utf-8", "/rest-api/recorder/finished"],
        ["/client/examples/whip-client.js", "text/javascript; charset=utf-8", "application/sdp"],
        ["/client/examples/records.js", "text/javascript; charset=utf-8", "/rest-api/records/find_all"],
        ["/client/examples/pages.css", "text/css; charset=utf-8", "font-family"]
      ] as const
      for (const [path, type, content] of cases) {
        const page = yield* get(path)
        assert.deepStrictEqual([page.status, page.type], [200, type], path)
        assert.include(page.body, content)
      }
      const recording = yield* get("/client/examples/recording")
      for (const id of ["streamName", "start", "stop", "status", "download", "playback"]) {
        assert.include(recording.body, `id="${id}"`)
      }
      const unknown = ["nothing", "recording.html", "..%2Fclient-pages.ts"].map((name) => `/client/examples/${name}`)
      for (const path of unknown) {
        assert.strictEqual((yield* get(path)).status, 404, path)
      }
    }).pipe(Effect.provide(server(recordDir)), Effect.scoped))

  it.live("lists the finished recordings of record_dir, newest first, and nothing else", () =>
    Effect.gen(function*() {
      const files: ReadonlyArray<readonly [string, number, number]> = [
        ["old.mp4", 10, 1_700_000_000],
        ["new.webm", 20, 1_700_000_300],
        ["middle.mkv", 30, 1_700_000_200],
        ["stream.ts", 40, 1_700_000_100]
      ]
      for (const [name, size, time] of files) {
        writeFileSync(join(recordDir, name), Buffer.alloc(size))
        utimesSync(join(recordDir, name), time, time)
      }
      for (const name of [".hidden.mp4", "x.mp4.part", "x.mp4.tmp", "x.mp4.idx", "notes.txt", "x.header", "mp4"]) {
        writeFileSync(join(recordDir, name), "not a recording")
      }
      mkdirSync(join(recordDir, "folder.mp4"))
      const listed = yield* findAll()
      assert.strictEqual(listed.status, 200)
      assert.deepStrictEqual(JSON.parse(listed.body), [
        { fileName: "new.webm", size: 20, modified: new Date(1_700_000_300_000).toISOString() },
        { fileName: "middle.mkv", size: 30, modified: new Date(1_700_000_200_000).toISOString() },
        { fileName: "stream.ts", size: 40, modified: new Date(1_700_000_100_000).toISOString() },
        { fileName: "old.mp4", size: 10, modified: new Date(1_700_000_000_000).toISOString() }
      ])
      assert.strictEqual((yield* findAll("")).status, 200, "an empty body is {}")
      const malformed = yield* findAll("{nope")
      assert.strictEqual(malformed.status, 400)
      assert.strictEqual(JSON.parse(malformed.body).error, "BadRequest")
    }).pipe(Effect.provide(server(recordDir)), Effect.scoped))

  it.live("lists nothing when record_dir does not exist yet", () =>
    Effect.gen(function*() {
      const listed = yield* findAll()
      assert.deepStrictEqual([listed.status, JSON.parse(listed.body)], [200, []])
    }).pipe(Effect.provide(server(join(root, "missing"))), Effect.scoped))

  it("takes only names a recording can have", () => {
    const names = ["a.mp4", "a.MP4", "a.webm", "a.mkv", "a.ts", ".a.mp4", "a.mp4.part", "a.txt", "mp4", ".mp4"]
    assert.deepStrictEqual(names.filter(isRecordFileName), ["a.mp4", "a.MP4", "a.webm", "a.mkv", "a.ts"])
  })
})
