/**
 * `/rest-api/multipleRecorder/...` (manual: "Multirecorder REST API"): POST with JSON, answers 200 `{}` or the
 * list, 404/409 with `{error, reason}`, 400 for a body that does not decode.
 */
import { Effect, Layer, Schema } from "effect"
import { HttpRouter, HttpServerRequest, HttpServerResponse } from "effect/http"
import { MultiRecorders } from "../actors/multi-recorders.ts"
import { decodeJsonBody } from "./json-body.ts"

const Uri = Schema.String.annotateKey({ messageMissingKey: "Missing key, expected a string" })
const UriBody = Schema.Struct({ uri: Uri })
const StreamBody = Schema.Struct({
  uri: Uri,
  mediaSessionId: Schema.String.annotateKey({ messageMissingKey: "Missing key, expected a string" })
})

const decodeUri = decodeJsonBody(UriBody)
const decodeStream = decodeJsonBody(StreamBody)

const json = (body: unknown, status = 200) => HttpServerResponse.jsonUnsafe(body, { status })

type Failure = { readonly _tag: string; readonly reason: string } | { readonly error: "BadRequest"; readonly reason: string }

const statusOf: Record<string, number> = { MultiRecorderNotFound: 404, MultiRecorderConflict: 409 }

/** Runs an operation for a POST body and answers with the manual's statuses and a JSON body. */
const route = (
  path: string,
  handle: (
    recorders: MultiRecorders["Service"],
    request: HttpServerRequest.HttpServerRequest
  ) => Effect.Effect<unknown, Failure>
) =>
  HttpRouter.add(
    "POST",
    `/rest-api/multipleRecorder${path}`,
    Effect.gen(function*() {
      const recorders = yield* MultiRecorders
      const request = yield* HttpServerRequest.HttpServerRequest
      return yield* handle(recorders, request).pipe(
        Effect.map((body) => json(body ?? {})),
        Effect.catch((failure: Failure) =>
          Effect.succeed(
            "error" in failure
              ? json(failure, 400)
              : json({ error: failure._tag, reason: failure.reason }, statusOf[failure._tag] ?? 500)
          )
        )
      )
    })
  )

export const multiRecorderRoutes = Layer.mergeAll(
  route("/startup", (recorders, request) => Effect.flatMap(decodeUri(request), ({ uri }) => recorders.startup(uri))),
  route("/add", (recorders, request) =>
    Effect.flatMap(decodeStream(request), ({ mediaSessionId, uri }) => recorders.add(uri, mediaSessionId))),
  route("/remove", (recorders, request) =>
    Effect.flatMap(decodeStream(request), ({ mediaSessionId, uri }) => recorders.remove(uri, mediaSessionId))),
  route("/terminate", (recorders, request) => Effect.flatMap(decodeUri(request), ({ uri }) => recorders.terminate(uri))),
  route("/find_all", (recorders) => recorders.list)
)
