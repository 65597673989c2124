/**
 * What the HTTP layer needs from the actors: list media sessions, start and stop their recordings,
 * list the recordings in progress. Implemented by the session registry; declared here so the
 * REST contract depends on this narrow port only.
 */
import type { Effect } from "effect"
import { Context, Schema } from "effect"

export const SessionStatus = Schema.Literals(["PUBLISHING", "UNPUBLISHED", "FAILED"])
export type SessionStatus = typeof SessionStatus.Type

export const TrackView = Schema.Struct({
  kind: Schema.Literals(["video", "audio"]),
  codec: Schema.String
})

export const SessionView = Schema.Struct({
  mediaSessionId: Schema.String,
  name: Schema.String,
  status: SessionStatus,
  protocol: Schema.String,
  recording: Schema.Boolean,
  /** The file currently being recorded (its final name in record_dir), or null. */
  recordFile: Schema.NullOr(Schema.String),
  tracks: Schema.Array(TrackView),
  /** Why the session or its last recording stopped on its own (error budget, disk space...), or null. */
  reason: Schema.NullOr(Schema.String)
})
export type SessionView = typeof SessionView.Type

export const RecordingView = Schema.Struct({
  fileName: Schema.String,
  mediaSessionId: Schema.String
})
export type RecordingView = typeof RecordingView.Type

/** A file a session finished recording (beyond the manual: what its getRecordInfo() gives a web page). */
export const FinishedRecording = Schema.Struct({
  fileName: Schema.String,
  mediaSessionId: Schema.String,
  streamName: Schema.String
})
export type FinishedRecording = typeof FinishedRecording.Type

/** Per-recording settings that override the server's (`config` of /rest-api/recorder/startup). */
export interface RecordingOverrides {
  readonly fileTemplate?: string | undefined
  readonly rotation?: string | undefined
}

export class SessionNotFound extends Schema.TaggedError<SessionNotFound>()("SessionNotFound", {
  mediaSessionId: Schema.String,
  reason: Schema.String
}, { httpApiStatus: 404 }) {}

export class InvalidRecordingConfig extends Schema.TaggedError<InvalidRecordingConfig>()("InvalidRecordingConfig", {
  reason: Schema.String
}, { httpApiStatus: 400 }) {}

export class RecorderFailure extends Schema.TaggedError<RecorderFailure>()("RecorderFailure", {
  reason: Schema.String
}, { httpApiStatus: 500 }) {}

export class RecorderControl extends Context.Service<RecorderControl, {
  readonly listSessions: Effect.Effect<ReadonlyArray<SessionView>>
  /** Stops the current recording of the session, if any, and starts a new one with the overrides. */
  readonly startRecording: (
    mediaSessionId: string,
    overrides: RecordingOverrides
  ) => Effect.Effect<void, SessionNotFound | InvalidRecordingConfig | RecorderFailure>
  readonly stopRecording: (mediaSessionId: string) => Effect.Effect<void, SessionNotFound | RecorderFailure>
  readonly listRecordings: Effect.Effect<ReadonlyArray<RecordingView>>
  /** Files finalized for a session (the last ones first), kept while the registry remembers the session. */
  readonly listFinished: (mediaSessionId: string) => Effect.Effect<ReadonlyArray<FinishedRecording>, SessionNotFound>
}>()("capstan/actors/RecorderControl") {}
