/**
 * The REST endpoints of the MPEG-TS over UDP ingest, over the MpegTsIngest service: `/rest-api/mpegts/startup`
 * binds a port for a stream name, `/terminate` ends it, `/find_all` lists the running ones with their counters.
 * Failures answer `{ error, reason }`: 400 for a bad body, 404 for an unknown name, 409 for a name or port in use.
 */
import { Effect, Layer, Schema } from "effect"
import { HttpRouter, HttpServerRequest, HttpServerResponse } from "effect/http"
import type { MpegTsStartupError, MpegTsStreamNotFound } from "../protocols/mpegts/mpegts-errors.ts"
import { MpegTsIngest } from "../protocols/mpegts/mpegts-ingest.ts"
import { decodeJsonBody } from "./json-body.ts"
import type { BadRequest } from "./recorder-api.ts"

export const mpegTsApiPrefix = "/rest-api/mpegts"

const LocalStreamName = Schema.NonEmptyString.annotateKey({ messageMissingKey: "Missing key, expected a string" })

export const MpegTsStartupRequest = Schema.Struct({
  localStreamName: LocalStreamName,
  /** Only "udp" is served; absent means "udp". */
  transport: Schema.optionalKey(Schema.String),
  /** The UDP port to bind; absent or 0 picks a free one. */
  port: Schema.optionalKey(Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 65535 })))
})
export type MpegTsStartupRequest = typeof MpegTsStartupRequest.Type

export const MpegTsTerminateRequest = Schema.Struct({ localStreamName: LocalStreamName })
export type MpegTsTerminateRequest = typeof MpegTsTerminateRequest.Type

/** One row of `/find_all`. */
export interface MpegTsStreamRow {
  readonly localStreamName: string
  readonly port: number
  readonly mediaSessionId: string
  readonly transport: "udp"
  readonly packets: number
  readonly errors: number
}

const decodeStartup = decodeJsonBody(MpegTsStartupRequest)
const decodeTerminate = decodeJsonBody(MpegTsTerminateRequest)

const STATUS: Record<(MpegTsStartupError | MpegTsStreamNotFound)["_tag"], number> = {
  MpegTsNameInUse: 409,
  MpegTsPortInUse: 409,
  MpegTsStartupFailed: 500,
  MpegTsStreamNotFound: 404
}

const ok = (body: unknown) => HttpServerResponse.jsonUnsafe(body, { status: 200 })
const badRequest = (body: BadRequest) => HttpServerResponse.jsonUnsafe(body, { status: 400 })
type HandlerError = BadRequest | MpegTsStartupError | MpegTsStreamNotFound

const refused = (error: HandlerError) =>
  "_tag" in error
    ? HttpServerResponse.jsonUnsafe({ error: error._tag, reason: error.reason }, { status: STATUS[error._tag] })
    : badRequest(error)

/** Every failure of a handler becomes its JSON answer. */
const answerFailures = <R>(
  effect: Effect.Effect<HttpServerResponse.HttpServerResponse, HandlerError, R>
) => Effect.catch(effect, (error) => Effect.succeed(refused(error)))

const startup = Effect.fn("MpegTsApi.startup")(function*(request: HttpServerRequest.HttpServerRequest) {
  const body = yield* decodeStartup(request)
  const transport = body.transport ?? "udp"
  if (transport.toLowerCase() !== "udp") {
    return badRequest({ error: "BadRequest", reason: `transport: "${transport}" is not supported, only "udp"` })
  }
  const ingest = yield* MpegTsIngest
  const started = yield* ingest.startup({ localStreamName: body.localStreamName, transport: "udp", port: body.port })
  return ok(started)
}, answerFailures)

const terminate = Effect.fn("MpegTsApi.terminate")(function*(request: HttpServerRequest.HttpServerRequest) {
  const { localStreamName } = yield* decodeTerminate(request)
  const ingest = yield* MpegTsIngest
  yield* ingest.terminate(localStreamName)
  return ok({})
}, answerFailures)

const findAll = Effect.gen(function*() {
  const ingest = yield* MpegTsIngest
  const streams = yield* ingest.list()
  return ok(streams.map((s): MpegTsStreamRow => ({
    localStreamName: s.localStreamName,
    port: s.port,
    mediaSessionId: s.mediaSessionId,
    transport: s.transport,
    packets: s.packets,
    errors: s.errors
  })))
})

/** The three routes; they need MpegTsIngest, provided after `serveRoutes(...)`. */
export const mpegTsApiRoutes = Layer.mergeAll(
  HttpRouter.add("POST", `${mpegTsApiPrefix}/startup`, startup),
  HttpRouter.add("POST", `${mpegTsApiPrefix}/terminate`, terminate),
  HttpRouter.add("POST", `${mpegTsApiPrefix}/find_all`, findAll)
)
