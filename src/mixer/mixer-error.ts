/**
 * The one error of the offline mixer's work (tracks info, mixing, pulling streams); `reason` says which step failed.
 * Messages about low disk space start with the disk guard's words, so operators grep the same line as for recordings.
 */
import { Schema } from "effect"

export const MixerErrorReason = Schema.Literals([
  /** The multi-recording cannot be read (missing, not MP4/MKV, no moov, ffprobe failed). */
  "UnreadableInput",
  /** The file holds no track of the kind asked for (nothing to mix or pull). */
  "NoTracks",
  /** offline_mixer.json is not valid JSON or has a bad value. */
  "BadSettings",
  /** ffmpeg could not be started or exited with an error. */
  "FfmpegFailed",
  /** The callback URL could not be reached or did not answer 2xx. */
  "CallbackFailed",
  /** The mixer's temporary files (filter graph, labels, parts) could not be written. */
  "TempFiles",
  /** Less than minAvailableSpace is free where the output goes: the mix did not start, or was stopped. */
  "NotEnoughDiskSpace"
])
export type MixerErrorReason = typeof MixerErrorReason.Type

export class MixerError extends Schema.TaggedError<MixerError>()("MixerError", {
  reason: MixerErrorReason,
  message: Schema.String
}, { httpApiStatus: 500 }) {}
