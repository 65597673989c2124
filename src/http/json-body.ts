/**
 * Reads a REST request body as JSON and decodes it with the endpoint's Schema. Every client mistake (unreadable or
 * oversized body, malformed JSON, a field missing or of the wrong type) becomes a BadRequest whose reason names the
 * field and what was expected, never a 500 or an empty 400.
 */
import { ByteSize, Effect, Schema, SchemaIssue } from "effect"
import { HttpIncomingMessage, type HttpServerRequest } from "effect/http"
import type { BadRequest } from "./recorder-api.ts"

/** Far above any body of the manual; keeps a stray upload from filling memory. */
export const maxJsonBodyBytes = 64 * 1024

const badRequest = (reason: string): BadRequest => ({ error: "BadRequest", reason })

const formatter = SchemaIssue.makeFormatterStandardSchemaV1()

/** Every problem, `; `-separated, each prefixed by where it is: `config.rotation: Expected string, got 3`. */
export const describeIssue = (issue: SchemaIssue.Issue): string =>
  formatter(issue).issues
    .map(({ message, path }) => {
      const where = path === undefined || path.length === 0 ? "body" : path.map((key) => String(key)).join(".")
      return `${where}: ${message}`
    })
    .join("; ")

const contentTypeNote = (request: HttpServerRequest.HttpServerRequest): string => {
  const contentType = request.headers["content-type"]
  return contentType === undefined || contentType.includes("json") ? "" : ` (Content-Type was ${contentType})`
}

/**
 * Decodes the body of `request` with `schema`. The body is parsed as JSON whatever its Content-Type, since scripts
 * (`curl -d`) often send JSON as form data; an empty body reads as `{}`, so endpoints whose fields are all optional
 * accept it. Keys the schema does not know are ignored.
 */
export const decodeJsonBody = <A>(schema: Schema.Decoder<A>) =>
  Effect.fn("JsonBody.decode")(function*(request: HttpServerRequest.HttpServerRequest) {
    const text = yield* request.text.pipe(
      Effect.provideService(HttpIncomingMessage.MaxBodySize, ByteSize.bytes(maxJsonBodyBytes)),
      Effect.mapError(() => badRequest(`could not read the request body (at most ${maxJsonBodyBytes} bytes of JSON)`))
    )
    const json = text.trim() === "" ? {} : yield* Effect.try({
      try: (): unknown => JSON.parse(text),
      catch: (cause) =>
        badRequest(`malformed JSON body: ${cause instanceof Error ? cause.message : String(cause)}` +
          contentTypeNote(request))
    })
    return yield* Schema.decodeUnknownEffect(schema)(json, {
      errors: "all",
      onExcessProperty: "ignore",
      reportInput: true
    }).pipe(
      Effect.mapError((error) => badRequest(describeIssue(error.issue)))
    )
  })
