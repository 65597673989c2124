/**
 * How a WHIP publish or delete can fail (RFC 9725 4.2, 4.3), each with the HTTP status the endpoint answers with.
 */
import { Schema } from "effect"

/** The body is not an SDP offer werift can answer. */
export class WhipBadOffer extends Schema.TaggedError<WhipBadOffer>()("WhipBadOffer", {
  reason: Schema.String
}, { httpApiStatus: 400 }) {}

/** A well-formed offer with nothing this server can record in it. */
export class WhipUnsupportedOffer extends Schema.TaggedError<WhipUnsupportedOffer>()("WhipUnsupportedOffer", {
  reason: Schema.String
}, { httpApiStatus: 406 }) {}

/** The stream name is already being published (the Publisher refused the publication). */
export class WhipConflict extends Schema.TaggedError<WhipConflict>()("WhipConflict", {
  reason: Schema.String
}, { httpApiStatus: 409 }) {}

/** No WHIP session lives at that resource URL. */
export class WhipSessionNotFound extends Schema.TaggedError<WhipSessionNotFound>()("WhipSessionNotFound", {
  reason: Schema.String
}, { httpApiStatus: 404 }) {}

/** werift failed where a valid offer should have worked. */
export class WhipFailure extends Schema.TaggedError<WhipFailure>()("WhipFailure", {
  reason: Schema.String
}, { httpApiStatus: 500 }) {}

export type WhipPublishError = WhipBadOffer | WhipUnsupportedOffer | WhipConflict | WhipFailure

/** The HTTP status of each error. */
export const whipErrorStatus = (error: WhipPublishError | WhipSessionNotFound): number => {
  switch (error._tag) {
    case "WhipBadOffer":
      return 400
    case "WhipUnsupportedOffer":
      return 406
    case "WhipConflict":
      return 409
    case "WhipSessionNotFound":
      return 404
    case "WhipFailure":
      return 500
  }
}
