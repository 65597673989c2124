/**
 * The one error of reading an MP4's index and cutting a time range out of it: `reason` says which way it failed.
 */
import { Schema } from "effect"

export const Mp4CutErrorReason = Schema.Literals([
  /** A file operation failed (missing file, permissions, disk full); `message` has the system error. */
  "Io",
  /** The file is not a readable ISO BMFF movie: no moov, a box running past its parent, a broken sample table. */
  "Malformed",
  /** A movie this cutter does not handle: fragmented (moof), compressed moov (cmov), no samples. */
  "Unsupported",
  /** The requested range selects nothing: it starts at or after the end of the recording. */
  "EmptyRange"
])
export type Mp4CutErrorReason = typeof Mp4CutErrorReason.Type

export class Mp4CutError extends Schema.TaggedError<Mp4CutError>()(
  "Mp4CutError",
  { reason: Mp4CutErrorReason, message: Schema.String },
  { httpApiStatus: 500 }
) {}

/** Wraps a thrown system error (from node:fs) as an Io failure. */
export const cutIoError = (action: string, path: string, cause: unknown): Mp4CutError =>
  new Mp4CutError({
    reason: "Io",
    message: `${action} ${path}: ${cause instanceof Error ? cause.message : String(cause)}`
  })

/** A Malformed failure for the pure parsers, which return errors as values. */
export const malformed = (message: string): Mp4CutError => new Mp4CutError({ reason: "Malformed", message })
