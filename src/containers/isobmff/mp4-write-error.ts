/**
 * The one error of the MP4 writer: `reason` says which way recording, finalizing or recovering failed.
 * Returned as a value from the per-frame path and raised in the Effect ones.
 */
import { Schema } from "effect"

export const Mp4WriteErrorReason = Schema.Literals([
  /** A file operation failed (disk full, permissions, missing directory); `message` has the system error. */
  "Io",
  /** The recorder was finalized or aborted, or an earlier I/O error stopped it. */
  "Closed",
  "UnknownTrack",
  /** Only H.264 video and AAC audio go into MP4 here. */
  "UnsupportedCodec",
  /** A frame's dts went backwards within its track; the frame was dropped. */
  "DtsOutOfOrder",
  /** A video track must start with a keyframe; the frame was dropped. */
  "NotKeyframe",
  /** Nothing was recorded (finalize) or nothing recoverable was found (recoverMp4). */
  "NoSamples",
  /** The journal of a crashed recording cannot be read. */
  "Corrupt",
  /** Recorder options that cannot work (a reservation too small for a free box, an interval of 0). */
  "InvalidOptions"
])
export type Mp4WriteErrorReason = typeof Mp4WriteErrorReason.Type

export class Mp4WriteError extends Schema.TaggedError<Mp4WriteError>()(
  "Mp4WriteError",
  { reason: Mp4WriteErrorReason, message: Schema.String },
  { httpApiStatus: 500 }
) {}

/** Wraps a thrown system error (from node:fs) as an Io failure. */
export const ioError = (action: string, path: string, cause: unknown): Mp4WriteError =>
  new Mp4WriteError({
    reason: "Io",
    message: `${action} ${path}: ${cause instanceof Error ? cause.message : String(cause)}`
  })
