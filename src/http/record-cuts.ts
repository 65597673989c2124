/**
 * `GET /client/records/{file}?start=S&end=E`: which part of an MP4 recording to send (manual, "Downloading and
 * playing a certain part of a recording file" and "Fragments folder configuration"). The cut is made once into
 * mp4_cutter_dir as `{name}-sS-eE.mp4`, kept, and sent again on later requests; other containers go whole.
 *
 * Naming: S and E are the query's seconds rounded to milliseconds (a cut cannot be finer than a frame) and written
 * in their shortest decimal form, so `11`, `11.0` and `11.000` all name `-s11`, and `11.5`, `11.50` name `-s11.5`.
 */
import * as fsp from "node:fs/promises"
import * as path from "node:path"
import { Context, Deferred, Effect, Layer, Schema } from "effect"
import { HttpServerResponse } from "effect/http"
import { cutMp4 } from "../containers/isobmff/mp4-cut.ts"
import { cutIoError, Mp4CutError } from "../containers/isobmff/mp4-cut-error.ts"

/** A query that cannot name a part of a recording; answered 400 with `{error: "BadRequest", reason}`. */
export class RecordCutBadRequest extends Schema.TaggedError<RecordCutBadRequest>()(
  "RecordCutBadRequest",
  { reason: Schema.String },
  { httpApiStatus: 400 }
) {}

export type RecordCutError = RecordCutBadRequest | Mp4CutError

/** Seconds above this are refused: a third of a century of recording, and the names stay plain decimals. */
const MAX_SECONDS = 1e9
/** Decimal seconds: digits with an optional fraction, or a bare fraction (`.5`). No sign, exponent or hex. */
const decimal = /^(\d+(\.\d*)?|\.\d+)$/

/** A validated range: seconds rounded to milliseconds; either bound may be absent, not both. */
export interface CutQuery {
  readonly start: number | undefined
  readonly end: number | undefined
}

const seconds = (name: string, text: string): number | RecordCutBadRequest => {
  const trimmed = text.trim()
  if (trimmed.startsWith("-")) return new RecordCutBadRequest({ reason: `${name} must not be negative: ${text}` })
  if (!decimal.test(trimmed)) {
    return new RecordCutBadRequest({ reason: `${name} must be a number of seconds, such as 11 or 11.5: ${text}` })
  }
  const value = Number(trimmed)
  if (!(value <= MAX_SECONDS)) return new RecordCutBadRequest({ reason: `${name} is too large: ${text}` })
  return Math.round(value * 1000) / 1000
}

/**
 * The range a query asks for: undefined when it has neither `start` nor `end` (the whole file), a CutQuery, or
 * why it is refused (not a number, negative, given twice, end not after start). Other parameters are ignored.
 */
export const parseCutQuery = (query: URLSearchParams): CutQuery | undefined | RecordCutBadRequest => {
  const bound = (name: string): number | undefined | RecordCutBadRequest => {
    const values = query.getAll(name)
    if (values.length === 0) return undefined
    if (values.length > 1) return new RecordCutBadRequest({ reason: `${name} is given more than once` })
    return seconds(name, values[0]!)
  }
  const start = bound("start")
  if (start instanceof RecordCutBadRequest) return start
  const end = bound("end")
  if (end instanceof RecordCutBadRequest) return end
  if (start === undefined && end === undefined) return undefined
  if (end !== undefined && end <= (start ?? 0)) {
    return new RecordCutBadRequest({ reason: `end (${end}) must be after start (${start ?? 0})` })
  }
  return { start, end }
}

/** The query of a request target such as `/client/records/a.mp4?start=1` (empty when it has none). */
export const searchParamsOf = (url: string): URLSearchParams => {
  const question = url.indexOf("?")
  if (question < 0) return new URLSearchParams()
  const hash = url.indexOf("#", question)
  return new URLSearchParams(url.slice(question + 1, hash < 0 ? undefined : hash))
}

/** Only MP4 recordings are cut; WebM, MKV and TS (and anything else) are always sent whole. */
export const isCuttable = (name: string): boolean => name.toLowerCase().endsWith(".mp4")

/** `stream.mp4` cut to 11-60 s is `stream-s11-e60.mp4`; start only `stream-s11.mp4`, end only `stream-e60.mp4`. */
export const cutFileName = (name: string, query: CutQuery): string => {
  const dot = name.lastIndexOf(".")
  const base = dot > 0 ? name.slice(0, dot) : name
  const extension = dot > 0 ? name.slice(dot) : ""
  const start = query.start === undefined ? "" : `-s${String(query.start)}`
  const end = query.end === undefined ? "" : `-e${String(query.end)}`
  return `${base}${start}${end}${extension}`
}

/** What to send instead of the whole recording. */
export interface CutFile {
  readonly path: string
  /** The cut's own name, for Content-Disposition and Content-Type. */
  readonly fileName: string
  /** Sent from an earlier request's cut, without cutting again. */
  readonly reused: boolean
}

export interface RecordCutsOptions {
  /** mp4_cutter_dir: where cuts are written and kept; pass record_dir when the setting is empty. */
  readonly cutterDir: string
}

const io = <A>(action: string, file: string, run: () => Promise<A>) =>
  Effect.tryPromise({ try: run, catch: (cause) => cutIoError(action, file, cause) })

/** An EmptyRange from the cutter (start past the end) is the client's mistake, like a malformed query. */
const asBadRequest = (error: Mp4CutError): RecordCutError =>
  error.reason === "EmptyRange" ? new RecordCutBadRequest({ reason: error.message }) : error

export class RecordCuts extends Context.Service<RecordCuts, {
  /**
   * The file to send for a download of the record file at `source.path` (already checked to be a finished
   * record file) requested as `source.name` with `query`: undefined for the whole file, or the cut, made now or
   * earlier. Concurrent requests for one cut share one cutting.
   */
  readonly cutFor: (
    source: { readonly path: string; readonly name: string },
    query: URLSearchParams
  ) => Effect.Effect<CutFile | undefined, RecordCutError>
  /** How many cuts were made (not reused) since the layer started. */
  readonly cutsMade: Effect.Effect<number>
}>()("capstan/http/RecordCuts") {
  static readonly layer = (options: RecordCutsOptions): Layer.Layer<RecordCuts> =>
    Layer.effect(RecordCuts, make(options))
}

const make = Effect.fn("RecordCuts.make")(function*(options: RecordCutsOptions) {
  const scope = yield* Effect.scope
  const inFlight = new Map<string, Deferred.Deferred<CutFile, RecordCutError>>()
  let made = 0

  /** A kept cut newer than its source is sent as it is; otherwise (none, or the source was rewritten) cut again. */
  const produce = Effect.fn("RecordCuts.produce")(function*(source: string, target: string, query: CutQuery) {
    const [sourceStat, kept] = yield* Effect.all([
      io("stat", source, () => fsp.stat(source)),
      io("stat", target, () => fsp.stat(target).catch(() => undefined))
    ])
    const fileName = path.basename(target)
    if (kept !== undefined && kept.isFile() && kept.mtimeMs >= sourceStat.mtimeMs) {
      return { path: target, fileName, reused: true }
    }
    yield* io("mkdir", options.cutterDir, () => fsp.mkdir(options.cutterDir, { recursive: true }))
    yield* cutMp4({ source, target, start: query.start, end: query.end }).pipe(Effect.mapError(asBadRequest))
    made++
    return { path: target, fileName, reused: false }
  })

  const cutFor = Effect.fn("RecordCuts.cutFor")(function*(
    source: { readonly path: string; readonly name: string },
    search: URLSearchParams
  ) {
    if (!isCuttable(source.name)) return undefined
    const query = parseCutQuery(search)
    if (query === undefined) return undefined
    if (query instanceof RecordCutBadRequest) return yield* query
    const target = path.join(options.cutterDir, cutFileName(source.name, query))
    const running = inFlight.get(target)
    if (running !== undefined) return yield* Deferred.await(running)
    // Registered before any yield, so a second request arriving meanwhile waits for this one.
    const deferred = Deferred.makeUnsafe<CutFile, RecordCutError>()
    inFlight.set(target, deferred)
    // Cut in the layer's scope: a client that hangs up does not abort a cut others wait for or will reuse.
    yield* Deferred.into(produce(source.path, target, query), deferred).pipe(
      Effect.ensuring(Effect.sync(() => inFlight.delete(target))),
      Effect.forkIn(scope)
    )
    return yield* Deferred.await(deferred)
  })

  return RecordCuts.of({ cutFor, cutsMade: Effect.sync(() => made) })
})

/**
 * The answer to a failed cut: 400 `{error: "BadRequest", reason}` for the query (or a start past the end), 422
 * `RecordNotCuttable` for an MP4 this cutter cannot read, 500 `RecordCutFailure` for an I/O error.
 */
export const recordCutErrorResponse = (error: RecordCutError): HttpServerResponse.HttpServerResponse => {
  if (error._tag === "RecordCutBadRequest") {
    return HttpServerResponse.jsonUnsafe({ error: "BadRequest", reason: error.reason }, { status: 400 })
  }
  if (error.reason === "Malformed" || error.reason === "Unsupported") {
    return HttpServerResponse.jsonUnsafe({ error: "RecordNotCuttable", reason: error.message }, { status: 422 })
  }
  return HttpServerResponse.jsonUnsafe({ error: "RecordCutFailure", reason: error.message }, { status: 500 })
}
