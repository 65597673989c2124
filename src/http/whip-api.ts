/**
 * The WHIP endpoint (RFC 9725): `POST /whip/{streamName}` with an SDP offer creates a session and answers 201 with
 * the SDP answer and its resource URL in Location; `DELETE` on that URL ends it; `OPTIONS` answers CORS preflights;
 * `PATCH` (trickle ICE, ICE restarts) is not supported and answers 405 (RFC 9725 4.3.1). Every answer carries the
 * CORS headers a browser page on another origin needs, including the exposed Location and X-Media-Session-Id.
 */
import { ByteSize, Effect, Layer, Option } from "effect"
import { HttpIncomingMessage, HttpRouter, HttpServerRequest, HttpServerResponse } from "effect/http"
import { whipErrorStatus, type WhipPublishError, type WhipSessionNotFound } from "../protocols/webrtc/whip-errors.ts"
import { WhipIngest } from "../protocols/webrtc/whip-ingest.ts"

export const whipPrefix = "/whip"
/** The header that carries the publication's mediaSessionId (for /rest-api/recorder/finished). */
export const mediaSessionIdHeader = "X-Media-Session-Id"
/** Far above a browser's offer (about 6 KB with two sections). */
export const maxOfferBytes = 64 * 1024

/** The CORS headers of every WHIP answer (also exported for the global CORS layer to agree with). */
export const whipCorsHeaders: Readonly<Record<string, string>> = {
  "access-control-allow-origin": "*",
  "access-control-allow-methods": "POST, DELETE, OPTIONS",
  "access-control-allow-headers": "Content-Type, Authorization",
  "access-control-expose-headers": `Location, ${mediaSessionIdHeader}`,
  "access-control-max-age": "600"
}

const failure = (status: number, error: string, reason: string) =>
  HttpServerResponse.jsonUnsafe({ error, reason }, { status, headers: whipCorsHeaders })

const fromError = (error: WhipPublishError | WhipSessionNotFound) =>
  failure(whipErrorStatus(error), error._tag, error.reason)

/** A stream name as it may appear in the path: non-empty, no control characters, at most 255 characters. */
const badStreamName = (name: string | undefined): string | undefined => {
  if (name === undefined || name === "") return "the stream name is empty"
  if (name.length > 255) return "the stream name is longer than 255 characters"
  if (/[\u0000-\u001f\u007f]/.test(name)) return "the stream name contains a control character"
  return undefined
}

const queryOf = (url: string): Record<string, string> => {
  const query: Record<string, string> = {}
  for (const [key, value] of new URL(url, "http://localhost").searchParams) query[key] = value
  return query
}

const publish = Effect.gen(function*() {
  const request = yield* HttpServerRequest.HttpServerRequest
  const { streamName } = yield* HttpRouter.params
  const badName = badStreamName(streamName)
  if (badName !== undefined) return failure(400, "BadRequest", badName)
  const contentType = (request.headers["content-type"] ?? "").split(";")[0]!.trim().toLowerCase()
  if (contentType !== "application/sdp") {
    const reason = `the offer must be sent as application/sdp, not ${contentType || "nothing"}`
    return failure(415, "UnsupportedMediaType", reason)
  }
  const query = queryOf(request.url)
  const record = query["record"]
  if (record !== undefined && record !== "true" && record !== "false") {
    return failure(400, "BadRequest", `record must be true or false, not ${record}`)
  }
  const sdp = yield* request.text.pipe(
    Effect.provideService(HttpIncomingMessage.MaxBodySize, ByteSize.bytes(maxOfferBytes)),
    Effect.option
  )
  if (Option.isNone(sdp)) return failure(400, "BadRequest", `could not read the offer (at most ${maxOfferBytes} bytes)`)
  const whip = yield* WhipIngest
  const published = yield* whip.publish({
    streamName: streamName!,
    sdp: sdp.value,
    record: record === undefined ? undefined : record === "true",
    query,
    remoteAddress: Option.getOrElse(request.remoteAddress, () => "unknown")
  }).pipe(Effect.result)
  if (published._tag === "Failure") return fromError(published.failure)
  const { answer, resourceId, mediaSessionId } = published.success
  return HttpServerResponse.text(answer, {
    status: 201,
    contentType: "application/sdp",
    headers: {
      ...whipCorsHeaders,
      location: `${whipPrefix}/${encodeURIComponent(streamName!)}/${resourceId}`,
      [mediaSessionIdHeader.toLowerCase()]: mediaSessionId
    }
  })
})

const stop = Effect.gen(function*() {
  const { streamName, resourceId } = yield* HttpRouter.params
  const whip = yield* WhipIngest
  const stopped = yield* whip.stop(streamName ?? "", resourceId ?? "").pipe(Effect.result)
  if (stopped._tag === "Failure") return fromError(stopped.failure)
  return HttpServerResponse.empty({ status: 200, headers: whipCorsHeaders })
})

const preflight = HttpServerResponse.empty({
  status: 204,
  headers: { ...whipCorsHeaders, "accept-post": "application/sdp" }
})

const noTrickle = HttpServerResponse.jsonUnsafe(
  { error: "MethodNotAllowed", reason: "trickle ICE and ICE restarts are not supported; send the whole offer" },
  { status: 405, headers: { ...whipCorsHeaders, allow: "DELETE, OPTIONS" } }
)

/** The WHIP routes; they need WhipIngest (provide it after serving, like every handler service). */
export const whipRoutes = Layer.mergeAll(
  HttpRouter.add("POST", `${whipPrefix}/:streamName`, publish),
  HttpRouter.add("OPTIONS", `${whipPrefix}/:streamName`, preflight),
  HttpRouter.add("DELETE", `${whipPrefix}/:streamName/:resourceId`, stop),
  HttpRouter.add("OPTIONS", `${whipPrefix}/:streamName/:resourceId`, preflight),
  HttpRouter.add("PATCH", `${whipPrefix}/:streamName/:resourceId`, noTrickle)
)
