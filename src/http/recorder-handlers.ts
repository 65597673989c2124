/**
 * Implements the recorder REST contract (recorder-api.ts) over the RecorderControl port: decode the body, call
 * the port, turn its errors into the contract's `{ error, reason }` bodies. Bodies are decoded here rather than by
 * HttpApi, whose own decoding answers malformed input with an empty 400 or a text 415.
 */
import { Effect, Layer } from "effect"
import type { HttpServerRequest } from "effect/http"
import { HttpApiBuilder } from "effect/http-api"
import { RecorderControl, type SessionView } from "../actors/recorder-control.ts"
import { decodeJsonBody } from "./json-body.ts"
import {
  RecorderApi,
  RecordingFilter,
  SessionFilter,
  StartRecordingRequest,
  StopRecordingRequest
} from "./recorder-api.ts"

type ErrorBody<E> = E extends { readonly _tag: infer Tag } ? { readonly error: Tag; readonly reason: string } : never

/** A port error as the contract's body: its tag becomes `error`, its reason stays `reason`. */
const toErrorBody = <E extends { readonly _tag: string; readonly reason: string }>(error: E): ErrorBody<E> =>
  ({ error: error._tag, reason: error.reason }) as ErrorBody<E>

const matches = (filter: SessionFilter) => (session: SessionView): boolean =>
  (filter.name === undefined || session.name === filter.name) &&
  (filter.mediaSessionId === undefined || session.mediaSessionId === filter.mediaSessionId)

const decodeSessionFilter = decodeJsonBody(SessionFilter)
const decodeRecordingFilter = decodeJsonBody(RecordingFilter)
const decodeStart = decodeJsonBody(StartRecordingRequest)
const decodeStop = decodeJsonBody(StopRecordingRequest)

/** The operations behind both groups' endpoints, bound to the port. */
const makeOperations = Effect.gen(function*() {
  const control = yield* RecorderControl
  return {
    findSessions: Effect.fn("RecorderApi.findSessions")(function*(request: HttpServerRequest.HttpServerRequest) {
      const filter = yield* decodeSessionFilter(request)
      const sessions = yield* control.listSessions
      return sessions.filter(matches(filter))
    }),
    startRecording: Effect.fn("RecorderApi.startRecording")(function*(request: HttpServerRequest.HttpServerRequest) {
      const { config, mediaSessionId } = yield* decodeStart(request)
      yield* control.startRecording(mediaSessionId, config ?? {}).pipe(Effect.mapError(toErrorBody))
      return {}
    }),
    stopRecording: Effect.fn("RecorderApi.stopRecording")(function*(request: HttpServerRequest.HttpServerRequest) {
      const { mediaSessionId } = yield* decodeStop(request)
      yield* control.stopRecording(mediaSessionId).pipe(Effect.mapError(toErrorBody))
      return {}
    }),
    findFinished: Effect.fn("RecorderApi.findFinished")(function*(request: HttpServerRequest.HttpServerRequest) {
      const { mediaSessionId } = yield* decodeStop(request)
      return yield* control.listFinished(mediaSessionId).pipe(Effect.mapError(toErrorBody))
    }),
    findRecordings: Effect.fn("RecorderApi.findRecordings")(function*(request: HttpServerRequest.HttpServerRequest) {
      const { mediaSessionId } = yield* decodeRecordingFilter(request)
      const recordings = yield* control.listRecordings
      return mediaSessionId === undefined
        ? recordings
        : recordings.filter((recording) => recording.mediaSessionId === mediaSessionId)
    })
  }
})

/** `/rest-api/stream/...` */
export const StreamHandlers = HttpApiBuilder.group(RecorderApi, "stream", (handlers) =>
  Effect.map(makeOperations, (operations) =>
    handlers
      .handleRaw("findAll", ({ request }) => operations.findSessions(request))
      .handleRaw("startRecording", ({ request }) => operations.startRecording(request))
      .handleRaw("stopRecording", ({ request }) => operations.stopRecording(request))))

/** `/rest-api/recorder/...` */
export const RecorderHandlers = HttpApiBuilder.group(RecorderApi, "recorder", (handlers) =>
  Effect.map(makeOperations, (operations) =>
    handlers
      .handleRaw("startup", ({ request }) => operations.startRecording(request))
      .handleRaw("terminate", ({ request }) => operations.stopRecording(request))
      .handleRaw("findAll", ({ request }) => operations.findRecordings(request))
      .handleRaw("finished", ({ request }) => operations.findFinished(request))))

/** Both groups' handlers; they need RecorderControl when the server is built. */
export const RecorderApiHandlers = Layer.mergeAll(StreamHandlers, RecorderHandlers)
