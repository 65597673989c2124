/**
 * `GET`/`HEAD /client/records/{file}`: plays or downloads a finished record file from record_dir (manual: "How to
 * play or download recording file"), streamed from disk with single byte ranges. Nothing outside record_dir, and
 * no file still being written, is ever served.
 */
import { Effect, FileSystem, Path } from "effect"
import { HttpRouter, HttpServerRequest, HttpServerResponse } from "effect/http"
import { contentRange, parseRange, unsatisfiedRange } from "./byte-range.ts"
import { recordCutErrorResponse, RecordCuts, searchParamsOf } from "./record-cuts.ts"
import {
  contentDisposition,
  type ContentDispositionType,
  recordContentType,
  refusedRecordFileName
} from "./record-file.ts"

export interface RecordDownloadsOptions {
  /** The directory recordings are written to (record_dir). */
  readonly recordDir: string
  /** record_response_content_disposition_header_value: play in the browser, or save. */
  readonly contentDisposition: ContentDispositionType
}

export const recordDownloadsPrefix = "/client/records/"

/**
 * Every refusal answers 404 with a JSON reason: a name that can never be a record file says why; a name that could
 * be one but is missing, a symlink leading out of record_dir, or not a regular file all read "no such record file",
 * so the answer does not tell what lies outside record_dir.
 */
const notFound = (reason: string) =>
  HttpServerResponse.jsonUnsafe({ error: "RecordNotFound", reason }, { status: 404 })

const noSuchFile = (name: string) => notFound(`no such record file: ${name}`)

/** The `{file}` segment exactly as sent, before any decoding, or undefined if the target is elsewhere. */
const rawFileSegment = (url: string): string | undefined => {
  const query = url.search(/[?#]/)
  const path = query < 0 ? url : url.slice(0, query)
  return path.startsWith(recordDownloadsPrefix) ? path.slice(recordDownloadsPrefix.length) : undefined
}

const serve = Effect.fn("RecordDownloads.serve")(function*(options: RecordDownloadsOptions) {
  const request = yield* HttpServerRequest.HttpServerRequest
  const fs = yield* FileSystem.FileSystem
  const path = yield* Path.Path
  const raw = rawFileSegment(request.url)
  if (raw === undefined) return noSuchFile(request.url)
  // Percent-decoded exactly once; whatever still looks encoded afterwards is refused by name.
  const decoded = yield* Effect.option(Effect.try({ try: () => decodeURIComponent(raw), catch: (cause) => cause }))
  if (decoded._tag === "None") return notFound("the file name is not valid percent-encoded UTF-8")
  const name = decoded.value
  const refused = refusedRecordFileName(name)
  if (refused !== undefined) return notFound(refused)

  // Resolve symlinks on both sides: the real file must sit directly in the real record_dir and be regular.
  const resolved = yield* Effect.all([fs.realPath(options.recordDir), fs.realPath(path.join(options.recordDir, name))])
    .pipe(Effect.option)
  if (resolved._tag === "None") return noSuchFile(name)
  const [realDir, realFile] = resolved.value
  if (path.dirname(realFile) !== realDir || refusedRecordFileName(path.basename(realFile)) !== undefined) {
    return noSuchFile(name)
  }
  // `?start=S&end=E` on an MP4 serves the cut of that range (made once, then stored); other files are sent whole.
  const cuts = yield* RecordCuts
  const cut = yield* cuts.cutFor({ path: realFile, name }, searchParamsOf(request.url)).pipe(Effect.result)
  if (cut._tag === "Failure") return recordCutErrorResponse(cut.failure)
  const servedFile = cut.success?.path ?? realFile
  const servedName = cut.success?.fileName ?? name
  const info = yield* fs.stat(servedFile).pipe(Effect.option)
  if (info._tag === "None" || info.value.type !== "File") return noSuchFile(name)
  const size = Number(info.value.size)

  const headers = {
    "accept-ranges": "bytes",
    "content-disposition": contentDisposition(options.contentDisposition, servedName)
  }
  const contentType = recordContentType(servedName)
  const range = parseRange(request.headers["range"], size)
  switch (range._tag) {
    case "Unsatisfiable":
      return HttpServerResponse.empty({ status: 416, headers: { ...headers, "content-range": unsatisfiedRange(size) } })
    case "Whole":
      return yield* HttpServerResponse.file(servedFile, { headers, contentType, offset: 0, bytesToRead: size })
    case "Part":
      return yield* HttpServerResponse.file(servedFile, {
        status: 206,
        headers: { ...headers, "content-range": contentRange(range, size) },
        contentType,
        offset: range.start,
        bytesToRead: range.end - range.start + 1
      })
  }
}, (effect) =>
  Effect.catch(effect, (error) =>
    Effect.succeed(
      HttpServerResponse.jsonUnsafe({ error: "RecordReadFailure", reason: error.message }, { status: 500 })
    )))

/** The download route; HEAD is answered by the same handler (the router falls back to GET, Node sends no body). */
export const recordDownloadRoutes = (options: RecordDownloadsOptions) =>
  HttpRouter.add("GET", `${recordDownloadsPrefix}*`, serve(options))
