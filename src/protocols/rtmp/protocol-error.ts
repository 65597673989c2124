/**
 * Errors of the RTMP ingest. The pure parsers throw RtmpProtocolError (a plain Error, so the per-chunk path needs
 * no Effect); the connection fiber turns it into RtmpConnectionError, whose `reason` is the one line that gets logged.
 */
import { Schema } from "effect"

/** A peer broke the RTMP, AMF0 or FLV wire format; the message is the reason logged for the connection. */
export class RtmpProtocolError extends Error {
  override readonly name = "RtmpProtocolError"
}

/** Why one RTMP connection ended abnormally. Only that connection is closed. */
export class RtmpConnectionError extends Schema.TaggedError<RtmpConnectionError>()("RtmpConnectionError", {
  remoteAddress: Schema.String,
  reason: Schema.String
}) {}
