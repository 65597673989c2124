/**
 * The recorder REST contract of the manual ("Stream recording on demand", "REST methods and responses"): paths,
 * request bodies, answers and error statuses. It drives both the routes and the OpenAPI document; the handlers
 * that implement it live in recorder-handlers.ts.
 */
import { Schema } from "effect"
import { HttpApi, HttpApiEndpoint, HttpApiGroup, HttpApiSchema, OpenApi } from "effect/http-api"
import { FinishedRecording, RecordingView, SessionView } from "../actors/recorder-control.ts"

/** Where the OpenAPI 3.1 document of this contract is served. */
export const openApiPath = "/rest-api/openapi.json"

/** Every failure answers with this JSON body; `error` names what went wrong, `reason` says it for a human. */
const errorBody = <const Tag extends string>(tag: Tag, status: number) =>
  Schema.Struct({ error: Schema.Literal(tag), reason: Schema.String }).pipe(
    HttpApiSchema.status(status),
    (schema) => schema.annotate({ identifier: tag })
  )

/** The request could not be read: malformed JSON, a body of the wrong shape, a field of the wrong type. */
export const BadRequest = errorBody("BadRequest", 400)
export type BadRequest = typeof BadRequest.Type
export const SessionNotFoundBody = errorBody("SessionNotFound", 404)
export const InvalidRecordingConfigBody = errorBody("InvalidRecordingConfig", 400)
export const RecorderFailureBody = errorBody("RecorderFailure", 500)

/** `{}` and nothing else (`Schema.Struct({})` would accept any non-null value). */
const EmptyObject = Schema.Record(Schema.String, Schema.Never)

/**
 * A successful start or stop answers 200 with `{}`. The manual shows an empty body under
 * `Content-Type: application/json`; `{}` keeps that header truthful for clients that parse every answer.
 */
export const Done = EmptyObject.pipe(HttpApiSchema.status(200))

/** Optional filters of `/stream/find_all`; an empty body or `{}` lists every session. */
export const SessionFilter = Schema.Struct({
  name: Schema.optionalKey(Schema.String),
  mediaSessionId: Schema.optionalKey(Schema.String)
})
export type SessionFilter = typeof SessionFilter.Type

/** `config` of `/recorder/startup`: settings that override the server's for this recording only. */
export const RecordingConfig = Schema.Struct({
  fileTemplate: Schema.optionalKey(Schema.String),
  rotation: Schema.optionalKey(Schema.String)
})

const MediaSessionId = Schema.String.annotateKey({ messageMissingKey: "Missing key, expected a string" })

export const StartRecordingRequest = Schema.Struct({
  mediaSessionId: MediaSessionId,
  config: Schema.optionalKey(RecordingConfig)
})
export type StartRecordingRequest = typeof StartRecordingRequest.Type

export const StopRecordingRequest = Schema.Struct({ mediaSessionId: MediaSessionId })
export type StopRecordingRequest = typeof StopRecordingRequest.Type

/** Optional filter of `/recorder/find_all`; an empty body or `{}` lists every recording in progress. */
export const RecordingFilter = Schema.Struct({ mediaSessionId: Schema.optionalKey(Schema.String) })
export type RecordingFilter = typeof RecordingFilter.Type

const findSessions = HttpApiEndpoint.post("findAll", "/find_all", {
  payload: SessionFilter,
  success: Schema.Array(SessionView),
  error: BadRequest
})

const startRecording = <const Id extends string, const Path extends `/${string}`>(id: Id, path: Path) =>
  HttpApiEndpoint.post(id, path, {
    payload: StartRecordingRequest,
    success: Done,
    error: [BadRequest, SessionNotFoundBody, InvalidRecordingConfigBody, RecorderFailureBody]
  })

const stopRecording = <const Id extends string, const Path extends `/${string}`>(id: Id, path: Path) =>
  HttpApiEndpoint.post(id, path, {
    payload: StopRecordingRequest,
    success: Done,
    error: [BadRequest, SessionNotFoundBody, RecorderFailureBody]
  })

/** `/rest-api/stream/...`: sessions, and the recording methods under their `stream` names. */
export const StreamGroup = HttpApiGroup.make("stream")
  .add(findSessions)
  .add(startRecording("startRecording", "/startRecording"))
  .add(stopRecording("stopRecording", "/stopRecording"))
  .prefix("/rest-api/stream")

/** `/rest-api/recorder/...`: the recording methods under their `recorder` names, and the recordings in progress. */
export const RecorderGroup = HttpApiGroup.make("recorder")
  .add(startRecording("startup", "/startup"))
  .add(stopRecording("terminate", "/terminate"))
  .add(HttpApiEndpoint.post("findAll", "/find_all", {
    payload: RecordingFilter,
    success: Schema.Array(RecordingView),
    error: BadRequest
  }))
  .add(HttpApiEndpoint.post("finished", "/finished", {
    payload: StopRecordingRequest,
    success: Schema.Array(FinishedRecording),
    error: [BadRequest, SessionNotFoundBody]
  }).annotate(
    OpenApi.Description,
    "Beyond the manual: the files a session finished recording, newest first, as the manual's getRecordInfo() " +
      "gives them to a web page."
  ))
  .prefix("/rest-api/recorder")

export const RecorderApi = HttpApi.make("capstan")
  .add(StreamGroup)
  .add(RecorderGroup)
  .annotate(OpenApi.Title, "Capstan recorder REST API")
  .annotate(OpenApi.Version, "1")
  .annotate(
    OpenApi.Description,
    "Every method is a POST with a JSON body. Failures answer { error, reason }. Every answer carries " +
      "Access-Control-Allow-Origin: *."
  )
