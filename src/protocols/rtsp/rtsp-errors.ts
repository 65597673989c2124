/**
 * How an RTSP pull fails. CameraError is one connection's failure (startup, or a drop after PLAY); RtspStartupError
 * is what `RtspPulls.startup` answers when the first connection fails. Reasons name the camera by its URI without
 * credentials, and never hold a password.
 */
import { Schema } from "effect"

export const CameraFailureKind = Schema.Literals([
  /** Connection refused, reset, host unknown. */
  "Unreachable",
  /** The camera did not connect or answer in time. */
  "Timeout",
  /** 401 without credentials, or with credentials it refused. */
  "Unauthorized",
  /** 404 on DESCRIBE: no such stream. */
  "NotFound",
  /** An answer we cannot use: another status, a malformed message, an SDP without media. */
  "Protocol",
  /** Nothing in the SDP that we can depacketize. */
  "Unsupported",
  /** The connection closed, or RTP stopped, after PLAY. */
  "Dropped"
])
export type CameraFailureKind = typeof CameraFailureKind.Type

export class CameraError extends Schema.TaggedError<CameraError>()("CameraError", {
  kind: CameraFailureKind,
  reason: Schema.String
}) {}

export const cameraError = (kind: CameraFailureKind, reason: string): CameraError => new CameraError({ kind, reason })

export const StartupFailureKind = Schema.Literals([
  ...CameraFailureKind.literals,
  /** The URI is not an rtsp:// URI. */
  "InvalidUri",
  /** The URI, or the local stream name, is already pulled. */
  "AlreadyPulled",
  /** The Publisher refused the stream name (e.g. another client publishes it). */
  "Rejected"
])
export type StartupFailureKind = typeof StartupFailureKind.Type

export class RtspStartupError extends Schema.TaggedError<RtspStartupError>()("RtspStartupError", {
  kind: StartupFailureKind,
  reason: Schema.String
}) {}

export class RtspPullNotFound extends Schema.TaggedError<RtspPullNotFound>()("RtspPullNotFound", {
  reason: Schema.String
}) {}
