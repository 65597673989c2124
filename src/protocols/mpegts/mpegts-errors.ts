/**
 * Why an MPEG-TS ingest request was refused. Each carries the HTTP status the REST layer answers with, and a
 * reason for a human.
 */
import { Schema } from "effect"

/** Another ingest (or another protocol's publication) already uses the stream name. */
export class MpegTsNameInUse extends Schema.TaggedError<MpegTsNameInUse>()("MpegTsNameInUse", {
  localStreamName: Schema.String,
  reason: Schema.String
}, { httpApiStatus: 409 }) {}

/** The UDP port asked for is taken. */
export class MpegTsPortInUse extends Schema.TaggedError<MpegTsPortInUse>()("MpegTsPortInUse", {
  port: Schema.Number,
  reason: Schema.String
}, { httpApiStatus: 409 }) {}

/** The socket could not be opened for another reason (address not available, permission...). */
export class MpegTsStartupFailed extends Schema.TaggedError<MpegTsStartupFailed>()("MpegTsStartupFailed", {
  localStreamName: Schema.String,
  reason: Schema.String
}, { httpApiStatus: 500 }) {}

/** No ingest runs under the name. */
export class MpegTsStreamNotFound extends Schema.TaggedError<MpegTsStreamNotFound>()("MpegTsStreamNotFound", {
  localStreamName: Schema.String,
  reason: Schema.String
}, { httpApiStatus: 404 }) {}

export type MpegTsStartupError = MpegTsNameInUse | MpegTsPortInUse | MpegTsStartupFailed
