/**
 * Record downloads over a real Node HTTP server on 127.0.0.1: whole files, byte ranges, HEAD, labels, and every
 * way of reaching outside record_dir. Traversal attempts go out through node:http, byte for byte, because fetch
 * would normalise their paths.
 */
import { afterAll, assert, layer } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { randomBytes } from "node:crypto"
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs"
import * as Http from "node:http"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { RecorderControl } from "../src/actors/recorder-control.ts"
import { boundPort, serveHttp } from "../src/http/http-server.ts"
import type { ContentDispositionType } from "../src/http/record-file.ts"

const root = mkdtempSync(join(tmpdir(), "capstan-http-downloads-"))
const recordDir = join(root, "records")
const secret = Buffer.from("TOP SECRET: outside record_dir\n")
const recording = randomBytes(256 * 1024 + 17)
mkdirSync(recordDir)
mkdirSync(join(recordDir, "sub"))
writeFileSync(join(root, "secret.mp4"), secret)
writeFileSync(join(recordDir, "rec.mp4"), recording)
writeFileSync(join(recordDir, "empty.mp4"), "")
for (const name of ["a.webm", "a.mkv", "a.ts", "a.bin", "my \"quoted\" file.mp4", "café.mp4"]) {
  writeFileSync(join(recordDir, name), name)
}
for (const name of [".x.part", "rec.mp4.part", "rec.tmp", "rec.tmp.idx", "rec.header", ".hidden.mp4"]) {
  writeFileSync(join(recordDir, name), secret)
}
symlinkSync("../secret.mp4", join(recordDir, "link.mp4"))
symlinkSync("/etc/passwd", join(recordDir, "passwd.mp4"))
symlinkSync(".x.part", join(recordDir, "to-temp.mp4"))
symlinkSync("rec.mp4", join(recordDir, "alias.mp4"))
afterAll(() => rmSync(root, { recursive: true, force: true }))

/** The port is not used by downloads; every method would die if it were. */
const unusedControl = Layer.succeed(RecorderControl, RecorderControl.of({
  listSessions: Effect.die("unused"),
  startRecording: () => Effect.die("unused"),
  stopRecording: () => Effect.die("unused"),
  listFinished: () => Effect.die("unused"),
  listRecordings: Effect.die("unused")
}))

const server = (contentDisposition: ContentDispositionType) =>
  serveHttp({ host: "127.0.0.1", port: 0, recordDir, contentDisposition, quiet: true }).pipe(
    Layer.provide(unusedControl)
  )

interface RawAnswer {
  readonly status: number
  readonly headers: Http.IncomingHttpHeaders
  readonly body: Buffer
}

/** A request whose path is sent exactly as written. */
const raw = (path: string, options: { method?: string; headers?: Record<string, string> } = {}) =>
  Effect.flatMap(boundPort, (port) =>
    Effect.promise(() =>
      new Promise<RawAnswer>((resolve, reject) => {
        const request = Http.request(
          { host: "127.0.0.1", port, path, method: options.method ?? "GET", headers: options.headers, timeout: 10_000 },
          (response) => {
            const chunks: Array<Buffer> = []
            response.on("data", (chunk: Buffer) => chunks.push(chunk))
            response.on("end", () =>
              resolve({ status: response.statusCode ?? 0, headers: response.headers, body: Buffer.concat(chunks) }))
            response.on("error", reject)
          }
        )
        request.on("timeout", () => request.destroy(new Error(`no answer for ${path}`)))
        request.on("error", reject)
        request.end()
      })
    ))

const download = (name: string, headers: Record<string, string> = {}, method = "GET") =>
  Effect.flatMap(boundPort, (port) =>
    Effect.promise(async () => {
      const response = await fetch(`http://127.0.0.1:${port}/client/records/${encodeURIComponent(name)}`, {
        method,
        headers,
        signal: AbortSignal.timeout(10_000)
      })
      return { status: response.status, headers: response.headers, body: Buffer.from(await response.arrayBuffer()) }
    }))

layer(server("inline"))("record downloads, inline", (it) => {
  it.effect("a whole file: its bytes, length, type, Accept-Ranges, inline disposition and CORS", () =>
    Effect.gen(function*() {
      const answer = yield* download("rec.mp4")
      assert.strictEqual(answer.status, 200)
      assert.isTrue(answer.body.equals(recording))
      assert.strictEqual(answer.headers.get("content-length"), String(recording.length))
      assert.strictEqual(answer.headers.get("content-type"), "video/mp4")
      assert.strictEqual(answer.headers.get("accept-ranges"), "bytes")
      assert.strictEqual(answer.headers.get("content-disposition"), "inline;filename=\"rec.mp4\"")
      assert.strictEqual(answer.headers.get("access-control-allow-origin"), "*")
    }))

  it.effect("Content-Type follows the extension", () =>
    Effect.gen(function*() {
      const cases = [
        ["a.webm", "video/webm"],
        ["a.mkv", "video/x-matroska"],
        ["a.ts", "video/mp2t"],
        ["a.bin", "application/octet-stream"]
      ] as const
      for (const [name, type] of cases) {
        const answer = yield* download(name)
        assert.strictEqual(answer.status, 200, name)
        assert.strictEqual(answer.headers.get("content-type"), type, name)
        assert.strictEqual(answer.body.toString(), name)
      }
    }))

  it.effect("names with quotes or outside ASCII are served and labelled safely", () =>
    Effect.gen(function*() {
      const quoted = yield* download("my \"quoted\" file.mp4")
      assert.strictEqual(quoted.status, 200)
      assert.strictEqual(quoted.headers.get("content-disposition"), "inline;filename=\"my \\\"quoted\\\" file.mp4\"")
      const accented = yield* download("café.mp4")
      assert.strictEqual(accented.status, 200)
      assert.strictEqual(accented.body.toString(), "café.mp4")
      assert.strictEqual(
        accented.headers.get("content-disposition"),
        "inline;filename=\"caf?.mp4\";filename*=UTF-8''caf%C3%A9.mp4"
      )
    }))

  const size = recording.length
  const ranges: ReadonlyArray<readonly [range: string, status: number, first: number, last: number]> = [
    ["bytes=0-99", 206, 0, 99],
    ["bytes=-500", 206, size - 500, size - 1],
    ["bytes=100-", 206, 100, size - 1],
    [`bytes=${size - 10}-${size + 1000}`, 206, size - 10, size - 1],
    ["bytes=0-0", 206, 0, 0],
    ["bytes=0-1,5-6", 200, 0, size - 1],
    ["bytes=oops", 200, 0, size - 1]
  ]
  it.effect("single byte ranges are 206 with Content-Range; several or malformed ones get the whole file", () =>
    Effect.gen(function*() {
      for (const [range, status, first, last] of ranges) {
        const answer = yield* download("rec.mp4", { range })
        assert.strictEqual(answer.status, status, range)
        assert.isTrue(answer.body.equals(recording.subarray(first, last + 1)), range)
        assert.strictEqual(answer.headers.get("content-length"), String(last - first + 1), range)
        assert.strictEqual(
          answer.headers.get("content-range"),
          status === 206 ? `bytes ${first}-${last}/${size}` : null,
          range
        )
        assert.strictEqual(answer.headers.get("content-type"), "video/mp4")
      }
    }))

  it.effect("a range past the end is 416 with Content-Range bytes */size", () =>
    Effect.gen(function*() {
      const past = yield* download("rec.mp4", { range: `bytes=${size}-` })
      assert.strictEqual(past.status, 416)
      assert.strictEqual(past.headers.get("content-range"), `bytes */${size}`)
      assert.strictEqual(past.body.length, 0)
      const empty = yield* download("empty.mp4", { range: "bytes=0-" })
      assert.strictEqual(empty.status, 416)
      assert.strictEqual(empty.headers.get("content-range"), "bytes */0")
      const whole = yield* download("empty.mp4")
      assert.strictEqual(whole.status, 200)
      assert.strictEqual(whole.body.length, 0)
    }))

  it.effect("HEAD answers the headers of GET without a body", () =>
    Effect.gen(function*() {
      const answer = yield* raw("/client/records/rec.mp4", { method: "HEAD" })
      assert.strictEqual(answer.status, 200)
      assert.strictEqual(answer.headers["content-length"], String(size))
      assert.strictEqual(answer.headers["content-type"], "video/mp4")
      assert.strictEqual(answer.headers["content-disposition"], "inline;filename=\"rec.mp4\"")
      assert.strictEqual(answer.body.length, 0)
      const ranged = yield* raw("/client/records/rec.mp4", { method: "HEAD", headers: { range: "bytes=-10" } })
      assert.strictEqual(ranged.status, 206)
      assert.strictEqual(ranged.headers["content-range"], `bytes ${size - 10}-${size - 1}/${size}`)
      assert.strictEqual(ranged.body.length, 0)
    }))

  it.effect("a symlink inside record_dir to a record file there is served", () =>
    Effect.gen(function*() {
      const answer = yield* download("alias.mp4")
      assert.strictEqual(answer.status, 200)
      assert.isTrue(answer.body.equals(recording))
    }))

  const refused: ReadonlyArray<string> = [
    "/client/records/../secret.mp4",
    "/client/records/..%2fsecret.mp4",
    "/client/records/..%2Fsecret.mp4",
    "/client/records/%2e%2e%2fsecret.mp4",
    "/client/records/..%2f..%2f..%2f..%2f..%2f..%2fetc%2fpasswd",
    "/client/records/..%252fsecret.mp4",
    "/client/records/%252e%252e%252fsecret.mp4",
    "/client/records/..\\secret.mp4",
    "/client/records/..%5csecret.mp4",
    "/client/records/rec.mp4%00.txt",
    "/client/records/rec.mp4%2500",
    "/client/records/..",
    "/client/records/.",
    "/client/records/%2e%2e",
    "/client/records/",
    "/client/records/sub",
    "/client/records/sub/..%2f..%2fsecret.mp4",
    "/client/records/link.mp4",
    "/client/records/passwd.mp4",
    "/client/records/to-temp.mp4",
    "/client/records/.hidden.mp4",
    "/client/records/.x.part",
    "/client/records/rec.mp4.part",
    "/client/records/rec.tmp",
    "/client/records/rec.tmp.idx",
    "/client/records/rec.header",
    "/client/records/missing.mp4"
  ]
  it.effect("nothing outside record_dir, no hidden or unfinished file, is ever served", () =>
    Effect.gen(function*() {
      for (const path of refused) {
        const answer = yield* raw(path)
        assert.strictEqual(answer.status, 404, path)
        assert.notInclude(answer.body.toString(), "TOP SECRET", path)
        assert.notInclude(answer.body.toString(), "root:", path)
        const body = JSON.parse(answer.body.toString()) as { error: string; reason: string }
        assert.strictEqual(body.error, "RecordNotFound", path)
        assert.strictEqual(answer.headers["access-control-allow-origin"], "*", path)
      }
      // The same server still serves a normal file.
      assert.strictEqual((yield* raw("/client/records/rec.mp4")).status, 200)
    }))

  it.effect("a path that is not valid percent-encoded UTF-8 matches no route: 404", () =>
    Effect.gen(function*() {
      for (const path of ["/client/records/%ff%fe.mp4", "/client/records/%zz.mp4", "/client/records/%E2%82.mp4"]) {
        const answer = yield* raw(path)
        assert.strictEqual(answer.status, 404, path)
        assert.strictEqual(answer.body.length, 0, path)
      }
    }))

  it.effect("a symlink leading out reads as a missing file, telling nothing about what lies outside", () =>
    Effect.gen(function*() {
      const answer = yield* raw("/client/records/link.mp4")
      assert.deepStrictEqual(JSON.parse(answer.body.toString()), {
        error: "RecordNotFound",
        reason: "no such record file: link.mp4"
      })
    }))
})

layer(server("attachment"))("record downloads, attachment", (it) => {
  it.effect("record_response_content_disposition_header_value=attachment makes browsers save the file", () =>
    Effect.gen(function*() {
      const answer = yield* download("rec.mp4")
      assert.strictEqual(answer.status, 200)
      assert.strictEqual(answer.headers.get("content-disposition"), "attachment;filename=\"rec.mp4\"")
      assert.isTrue(answer.body.equals(recording))
    }))
})
