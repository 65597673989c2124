/**
 * `GET /client/records/{file}?start=S&end=E` over a real Node HTTP server on 127.0.0.1 (manual, "Downloading and
 * playing a certain part of a recording file"): the query's 400s, the cut's name, Range on a cut, reuse of a
 * stored cut, one cut for concurrent requests, and other containers sent whole. The route here is the download
 * route's serving code with RecordCuts.cutFor in front of it, as record-downloads.ts is to call it.
 */
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, assert, describe, it, layer } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { HttpRouter, HttpServerRequest, HttpServerResponse } from "effect/http"
import { contentRange, parseRange } from "../src/http/byte-range.ts"
import { boundPort, serveRoutes } from "../src/http/http-server.ts"
import {
  cutFileName,
  parseCutQuery,
  RecordCutBadRequest,
  recordCutErrorResponse,
  RecordCuts,
  searchParamsOf
} from "../src/http/record-cuts.ts"
import { contentDisposition, recordContentType } from "../src/http/record-file.ts"
import { decodeErrors, probe } from "./support/ffprobe.ts"

const root = fs.mkdtempSync(path.join(os.tmpdir(), "capstan-http-cuts-"))
const recordDir = path.join(root, "records")
const cutterDir = path.join(root, "cuts")
fs.mkdirSync(recordDir)
const ffmpeg = spawnSync("ffmpeg", [
  "-nostdin", "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=30", "-f", "lavfi", "-i",
  "sine=frequency=440:sample_rate=44100", "-t", "8", "-c:v", "libx264", "-preset", "veryfast", "-g", "30", "-bf", "2",
  "-c:a", "aac", path.join(recordDir, "stream.mp4")
], { timeout: 120_000 })
if (ffmpeg.status !== 0) throw new Error(`ffmpeg: ${ffmpeg.stderr}`)
for (const name of ["a.webm", "a.mkv", "a.ts"]) fs.writeFileSync(path.join(recordDir, name), `whole ${name}`)
afterAll(() => fs.rmSync(root, { recursive: true, force: true }))

const prefix = "/client/records/"

/** The download route's serving (record-downloads.ts), with the cut chosen first: what the lead wires in. */
const downloads = HttpRouter.add(
  "GET",
  `${prefix}*`,
  Effect.gen(function*() {
    const request = yield* HttpServerRequest.HttpServerRequest
    const name = decodeURIComponent(request.url.slice(prefix.length).split("?")[0]!)
    const source = path.join(recordDir, name)
    const cuts = yield* RecordCuts
    const cut = yield* cuts.cutFor({ path: source, name }, searchParamsOf(request.url)).pipe(Effect.result)
    if (cut._tag === "Failure") return recordCutErrorResponse(cut.failure)
    const served = cut.success?.path ?? source
    const servedName = cut.success?.fileName ?? name
    const size = fs.statSync(served).size
    const headers = { "accept-ranges": "bytes", "content-disposition": contentDisposition("inline", servedName) }
    const contentType = recordContentType(servedName)
    const range = parseRange(request.headers["range"], size)
    if (range._tag === "Part") {
      return yield* HttpServerResponse.file(served, {
        status: 206,
        headers: { ...headers, "content-range": contentRange(range, size) },
        contentType,
        offset: range.start,
        bytesToRead: range.end - range.start + 1
      })
    }
    return yield* HttpServerResponse.file(served, { headers, contentType, offset: 0, bytesToRead: size })
  }).pipe(Effect.orDie)
)

const server = serveRoutes(downloads, { host: "127.0.0.1", port: 0, quiet: true }).pipe(
  Layer.provideMerge(RecordCuts.layer({ cutterDir }))
)

const get = (target: string, headers: Record<string, string> = {}) =>
  Effect.flatMap(boundPort, (port) =>
    Effect.promise(async () => {
      const response = await fetch(`http://127.0.0.1:${port}${prefix}${target}`, {
        headers,
        signal: AbortSignal.timeout(30_000)
      })
      return { status: response.status, headers: response.headers, body: Buffer.from(await response.arrayBuffer()) }
    }))

const cutsMade = Effect.gen(function*() {
  const cuts = yield* RecordCuts
  return yield* cuts.cutsMade
})

describe("cut query and naming (pure)", () => {
  it("names: shortest decimal of the seconds rounded to milliseconds", () => {
    const cases = [
      ["start=11&end=60", "stream-s11-e60.mp4"],
      ["start=11.0&end=60.000", "stream-s11-e60.mp4"],
      ["start=11.50", "stream-s11.5.mp4"],
      ["start=11.5", "stream-s11.5.mp4"],
      ["end=60", "stream-e60.mp4"],
      ["start=.25&end=1.0004", "stream-s0.25-e1.mp4"],
      ["start=0&end=3&other=x", "stream-s0-e3.mp4"]
    ] as const
    for (const [query, name] of cases) {
      const parsed = parseCutQuery(new URLSearchParams(query))
      assert.isFalse(parsed === undefined || parsed instanceof RecordCutBadRequest, query)
      assert.strictEqual(cutFileName("stream.mp4", parsed as { start: number; end: number }), name, query)
    }
    assert.isUndefined(parseCutQuery(new URLSearchParams("other=1")))
  })
})

layer(server)("record cuts over HTTP", (it) => {
  it.effect("a cut: 200, the cut's name, a playable MP4 of the range, stored in the cutter dir", () =>
    Effect.gen(function*() {
      const answer = yield* get("stream.mp4?start=1.2&end=3.4")
      assert.strictEqual(answer.status, 200)
      assert.strictEqual(answer.headers.get("content-disposition"), "inline;filename=\"stream-s1.2-e3.4.mp4\"")
      assert.strictEqual(answer.headers.get("content-type"), "video/mp4")
      const stored = path.join(cutterDir, "stream-s1.2-e3.4.mp4")
      assert.isTrue(answer.body.equals(fs.readFileSync(stored)), "the stored cut is what was sent")
      assert.strictEqual(decodeErrors(stored), "")
      // Keyframes every second: the cut starts at 1 s and lasts to 3.4 s.
      assert.approximately(Number(probe(stored).format.duration), 2.4, 1 / 30)
      assert.isFalse(fs.existsSync(path.join(recordDir, "stream-s1.2-e3.4.mp4")), "not in record_dir")
    }))

  it.effect("start only and end only", () =>
    Effect.gen(function*() {
      const startOnly = yield* get("stream.mp4?start=6.5")
      assert.strictEqual(startOnly.status, 200)
      assert.strictEqual(startOnly.headers.get("content-disposition"), "inline;filename=\"stream-s6.5.mp4\"")
      assert.approximately(Number(probe(path.join(cutterDir, "stream-s6.5.mp4")).format.duration), 2, 1 / 30)
      const endOnly = yield* get("stream.mp4?end=2")
      assert.strictEqual(endOnly.status, 200)
      assert.strictEqual(endOnly.headers.get("content-disposition"), "inline;filename=\"stream-e2.mp4\"")
      assert.approximately(Number(probe(path.join(cutterDir, "stream-e2.mp4")).format.duration), 2, 1 / 30)
    }))

  it.effect("400 with a JSON reason for a query that names no part of the file", () =>
    Effect.gen(function*() {
      const bad = [
        "start=abc", "start=-1", "end=-2", "start=5&end=5", "start=5&end=4", "end=0", "start=1e3", "start=0x10",
        "start=", "start=1&start=2", "start=Infinity", "start=NaN", "start=%2B1", "start=100", "start=8.5&end=9"
      ]
      const before = yield* cutsMade
      for (const query of bad) {
        const answer = yield* get(`stream.mp4?${query}`)
        assert.strictEqual(answer.status, 400, query)
        const body = JSON.parse(answer.body.toString())
        assert.strictEqual(body.error, "BadRequest", query)
        assert.isString(body.reason, query)
        assert.isAbove(body.reason.length, 0, query)
      }
      assert.strictEqual(yield* cutsMade, before, "nothing was cut")
    }))

  it.effect("WebM, MKV and TS are sent whole, whatever the query", () =>
    Effect.gen(function*() {
      for (const name of ["a.webm", "a.mkv", "a.ts"]) {
        for (const query of ["start=1&end=2", "start=abc"]) {
          const answer = yield* get(`${name}?${query}`)
          assert.strictEqual(answer.status, 200, name)
          assert.strictEqual(answer.body.toString(), `whole ${name}`)
          assert.strictEqual(answer.headers.get("content-disposition"), `inline;filename="${name}"`)
        }
      }
      const whole = yield* get("stream.mp4")
      assert.isTrue(whole.body.equals(fs.readFileSync(path.join(recordDir, "stream.mp4"))))
    }))

  it.effect("Range on a cut: 206 with the cut's Content-Range", () =>
    Effect.gen(function*() {
      const whole = yield* get("stream.mp4?start=2&end=4")
      const part = yield* get("stream.mp4?start=2&end=4", { range: "bytes=100-1099" })
      assert.strictEqual(part.status, 206)
      assert.strictEqual(part.headers.get("content-range"), `bytes 100-1099/${whole.body.length}`)
      assert.isTrue(part.body.equals(whole.body.subarray(100, 1100)))
    }))

  it.effect("the same cut again is the stored file, not cut again (11.50 and 11.5 are one cut)", () =>
    Effect.gen(function*() {
      const first = yield* get("stream.mp4?start=3.50&end=5")
      const stored = path.join(cutterDir, "stream-s3.5-e5.mp4")
      const made = yield* cutsMade
      const mtime = fs.statSync(stored).mtimeMs
      const again = yield* get("stream.mp4?start=3.5&end=5.0")
      assert.strictEqual(again.status, 200)
      assert.isTrue(again.body.equals(first.body))
      assert.strictEqual(yield* cutsMade, made, "no second cut")
      assert.strictEqual(fs.statSync(stored).mtimeMs, mtime, "the stored file was not rewritten")
    }))

  it.effect("a source rewritten after its cut is cut again", () =>
    Effect.gen(function*() {
      yield* get("stream.mp4?start=4&end=6")
      const made = yield* cutsMade
      const later = new Date(Date.now() + 5_000)
      fs.utimesSync(path.join(recordDir, "stream.mp4"), later, later)
      const answer = yield* get("stream.mp4?start=4&end=6")
      assert.strictEqual(answer.status, 200)
      assert.strictEqual(yield* cutsMade, made + 1)
    }))

  it.effect("two concurrent requests for a new cut make it once", () =>
    Effect.gen(function*() {
      const made = yield* cutsMade
      const [a, b, c] = yield* Effect.all([
        get("stream.mp4?start=0.5&end=7.5"),
        get("stream.mp4?start=0.5&end=7.5"),
        get("stream.mp4?start=0.500&end=7.50")
      ], { concurrency: "unbounded" })
      for (const answer of [a, b, c]) assert.strictEqual(answer.status, 200)
      assert.isTrue(a.body.equals(b.body) && b.body.equals(c.body))
      assert.strictEqual(yield* cutsMade, made + 1)
    }))
})
