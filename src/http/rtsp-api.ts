/**
 * The REST endpoints of the RTSP pull, over the RtspPulls service: `/rest-api/rtsp/startup` pulls a camera into a
 * local stream name, `/terminate` stops it, `/find_all` lists the pulls with their counters. Failures answer
 * `{ error, reason }` (reasons never hold credentials):
 * - 400 BadRequest: a bad body, or a URI that is not rtsp://
 * - 409 RtspAlreadyPulled / RtspStreamRejected: the URI or name is pulled already, or another publisher has the name
 * - 504 CameraTimeout: the camera did not connect or answer within the startup timeout
 * - 502 Camera<Kind>: the camera is unreachable, refused the credentials, has no such stream (its 404 is not ours),
 *   or answered something we cannot use
 * - 404 RtspPullNotFound: terminate of a URI that is not pulled
 */
import { Effect, Layer, Schema } from "effect"
import { HttpRouter, HttpServerRequest, HttpServerResponse } from "effect/http"
import type { RtspPullNotFound, RtspStartupError, StartupFailureKind } from "../protocols/rtsp/rtsp-errors.ts"
import { RtspPulls, type RtspPullView } from "../protocols/rtsp/rtsp-pulls.ts"
import { decodeJsonBody } from "./json-body.ts"
import type { BadRequest } from "./recorder-api.ts"

export const rtspApiPrefix = "/rest-api/rtsp"

const required = (what: string) =>
  Schema.NonEmptyString.annotateKey({ messageMissingKey: `Missing key, expected ${what}` })

export const RtspStartupRequest = Schema.Struct({
  uri: required("an rtsp:// URI"),
  localStreamName: required("a stream name")
})
export type RtspStartupRequest = typeof RtspStartupRequest.Type

export const RtspTerminateRequest = Schema.Struct({ uri: required("an rtsp:// URI") })
export type RtspTerminateRequest = typeof RtspTerminateRequest.Type

/** One row of `/find_all`: the URI without credentials, the state and the RTP counters. */
export type RtspPullRow = RtspPullView

const ANSWERS: Record<StartupFailureKind, { readonly status: number; readonly error: string }> = {
  InvalidUri: { status: 400, error: "BadRequest" },
  AlreadyPulled: { status: 409, error: "RtspAlreadyPulled" },
  Rejected: { status: 409, error: "RtspStreamRejected" },
  Timeout: { status: 504, error: "CameraTimeout" },
  Unreachable: { status: 502, error: "CameraUnreachable" },
  Unauthorized: { status: 502, error: "CameraUnauthorized" },
  NotFound: { status: 502, error: "CameraStreamNotFound" },
  Protocol: { status: 502, error: "CameraProtocolError" },
  Unsupported: { status: 502, error: "CameraUnsupported" },
  Dropped: { status: 502, error: "CameraDropped" }
}

const decodeStartup = decodeJsonBody(RtspStartupRequest)
const decodeTerminate = decodeJsonBody(RtspTerminateRequest)

const json = (status: number, body: unknown) => HttpServerResponse.jsonUnsafe(body, { status })

const refused = (error: BadRequest | RtspStartupError | RtspPullNotFound) => {
  if (!("_tag" in error)) return json(400, error)
  if (error._tag === "RtspPullNotFound") return json(404, { error: error._tag, reason: error.reason })
  const answer = ANSWERS[error.kind]
  return json(answer.status, { error: answer.error, reason: error.reason })
}

const answerFailures = <R>(
  effect: Effect.Effect<HttpServerResponse.HttpServerResponse, BadRequest | RtspStartupError | RtspPullNotFound, R>
) => Effect.catch(effect, (error) => Effect.succeed(refused(error)))

const startup = Effect.fn("RtspApi.startup")(function*(request: HttpServerRequest.HttpServerRequest) {
  const body = yield* decodeStartup(request)
  const pulls = yield* RtspPulls
  const started = yield* pulls.startup(body)
  return json(200, started)
}, answerFailures)

const terminate = Effect.fn("RtspApi.terminate")(function*(request: HttpServerRequest.HttpServerRequest) {
  const { uri } = yield* decodeTerminate(request)
  const pulls = yield* RtspPulls
  yield* pulls.terminate(uri)
  return json(200, {})
}, answerFailures)

const findAll = Effect.gen(function*() {
  const pulls = yield* RtspPulls
  return json(200, yield* pulls.list())
})

/** The three routes; they need RtspPulls, provided after `serveRoutes(...)`. */
export const rtspApiRoutes = Layer.mergeAll(
  HttpRouter.add("POST", `${rtspApiPrefix}/startup`, startup),
  HttpRouter.add("POST", `${rtspApiPrefix}/terminate`, terminate),
  HttpRouter.add("POST", `${rtspApiPrefix}/find_all`, findAll)
)
