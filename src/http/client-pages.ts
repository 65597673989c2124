/**
 * The browser examples (plain HTML and JavaScript from src/http/pages, no build step): `GET /client/examples/recording`
 * (the manual's Stream Recording quick test over WHIP) and `GET /client/examples/records` (every recording with a
 * player), their scripts and style, and `POST /rest-api/records/find_all`, which lists the finished files in
 * record_dir for the records page.
 */
import { Effect, FileSystem, Layer, Path, Schema } from "effect"
import { HttpRouter, HttpServerRequest, HttpServerResponse } from "effect/http"
import { fileURLToPath } from "node:url"
import { decodeJsonBody } from "./json-body.ts"
import { refusedRecordFileName } from "./record-file.ts"

export interface ClientPagesOptions {
  /** The directory recordings are written to (record_dir). */
  readonly recordDir: string
}

export const examplesPrefix = "/client/examples"
export const findAllRecordsPath = "/rest-api/records/find_all"

const pagesDir = fileURLToPath(new URL("./pages/", import.meta.url))

/** The files served under /client/examples/, by the name in the URL. */
const assets: Readonly<Record<string, { readonly file: string; readonly contentType: string }>> = {
  "recording": { file: "recording.html", contentType: "text/html; charset=utf-8" },
  "records": { file: "records.html", contentType: "text/html; charset=utf-8" },
  "recording.js": { file: "recording.js", contentType: "text/javascript; charset=utf-8" },
  "records.js": { file: "records.js", contentType: "text/javascript; charset=utf-8" },
  "whip-client.js": { file: "whip-client.js", contentType: "text/javascript; charset=utf-8" },
  "pages.css": { file: "pages.css", contentType: "text/css; charset=utf-8" }
}

/** Extensions of the files the recorder writes (record_formats and record_h264_to_ts). */
const recordExtensions = new Set(["mp4", "webm", "mkv", "ts"])

export interface RecordListing {
  readonly fileName: string
  readonly size: number
  /** Last modification, ISO 8601 UTC. */
  readonly modified: string
}

const notFound = (reason: string) => HttpServerResponse.jsonUnsafe({ error: "NotFound", reason }, { status: 404 })

const serveAsset = Effect.gen(function*() {
  const { asset } = yield* HttpRouter.params
  const entry = asset === undefined ? undefined : assets[asset]
  if (entry === undefined) return notFound(`no example page or file ${asset ?? ""}`)
  const fs = yield* FileSystem.FileSystem
  const body = yield* fs.readFileString(`${pagesDir}${entry.file}`).pipe(Effect.option)
  if (body._tag === "None") return notFound(`the example file ${entry.file} is missing from this installation`)
  return HttpServerResponse.text(body.value, {
    contentType: entry.contentType,
    headers: { "cache-control": "no-cache" }
  })
})

/** Whether `name` is a finished recording: a record extension, not hidden, not a file still being written. */
export const isRecordFileName = (name: string): boolean => {
  if (refusedRecordFileName(name) !== undefined) return false
  const dot = name.lastIndexOf(".")
  return dot > 0 && recordExtensions.has(name.slice(dot + 1).toLowerCase())
}

/** The finished recordings directly in `recordDir`, newest first (a missing directory lists nothing). */
export const listRecords = Effect.fn("ClientPages.listRecords")(function*(recordDir: string) {
  const fs = yield* FileSystem.FileSystem
  const path = yield* Path.Path
  const names = yield* fs.readDirectory(recordDir).pipe(
    Effect.catchReason("PlatformError", "NotFound", () => Effect.succeed([] as Array<string>))
  )
  const listed: Array<RecordListing & { readonly time: number }> = []
  for (const fileName of names.filter(isRecordFileName)) {
    const info = yield* fs.stat(path.join(recordDir, fileName)).pipe(Effect.option)
    if (info._tag === "None" || info.value.type !== "File") continue
    const modified = info.value.mtime._tag === "Some" ? info.value.mtime.value : new Date(0)
    listed.push({ fileName, size: Number(info.value.size), modified: modified.toISOString(), time: modified.getTime() })
  }
  listed.sort((a, b) => b.time - a.time || a.fileName.localeCompare(b.fileName))
  return listed.map(({ fileName, size, modified }): RecordListing => ({ fileName, size, modified }))
})

const decodeFindAll = decodeJsonBody(Schema.Struct({}))

const findAll = (options: ClientPagesOptions) =>
  Effect.gen(function*() {
    const request = yield* HttpServerRequest.HttpServerRequest
    const decoded = yield* decodeFindAll(request).pipe(Effect.result)
    if (decoded._tag === "Failure") return HttpServerResponse.jsonUnsafe(decoded.failure, { status: 400 })
    const records = yield* listRecords(options.recordDir).pipe(Effect.result)
    if (records._tag === "Failure") {
      return HttpServerResponse.jsonUnsafe(
        { error: "RecordListFailure", reason: records.failure.message },
        { status: 500 }
      )
    }
    return HttpServerResponse.jsonUnsafe(records.success)
  })

/** The example pages and the records list; they need only the platform's FileSystem and Path. */
export const clientPageRoutes = (options: ClientPagesOptions) =>
  Layer.mergeAll(
    HttpRouter.add("GET", `${examplesPrefix}/:asset`, serveAsset),
    HttpRouter.add("POST", findAllRecordsPath, findAll(options))
  )
