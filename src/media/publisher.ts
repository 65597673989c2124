/**
 * The narrow port every ingest protocol publishes through. A protocol opens a publication when a
 * client starts publishing, pushes tracks and frames synchronously (the hot path allocates no Effect
 * per frame), and closes it when the client leaves. The actors layer implements it.
 */
import type { Effect } from "effect"
import { Context, Schema } from "effect"
import type { Frame, Track } from "./frame.ts"

export type IngestProtocol = "RTMP" | "WEBRTC" | "RTSP" | "MPEGTS"

export interface PublishRequest {
  readonly protocol: IngestProtocol
  /** Stream name without any query string. */
  readonly streamName: string
  /** The application part of the URL (RTMP `app`), if the protocol has one. */
  readonly app: string
  /** Query parameters that came with the stream name (`stream?record=false&login=bob`). */
  readonly query: Readonly<Record<string, string>>
  readonly remoteAddress: string
  /** Whether the protocol's own rules ask for recording (e.g. record_flash_published_streams). */
  readonly record: boolean
  /**
   * Asks the publisher for a keyframe (WebRTC PLI/FIR), when a recording waits for one. Protocols that
   * cannot ask (RTMP, MPEG-TS) leave it out.
   */
  readonly requestKeyframe?: (() => void) | undefined
}

export class PublishRejected extends Schema.TaggedError<PublishRejected>()("PublishRejected", {
  reason: Schema.String
}) {}

export interface Publication {
  readonly mediaSessionId: string
  /** Declare or replace a track (a new sequence header replaces the previous config of that kind). */
  readonly track: (track: Track) => void
  /** Push one frame of an already declared track. Never throws; bad frames are counted by the session. */
  readonly frame: (frame: Frame) => void
  /** The client left or the connection failed. Finalizes the session's recording; idempotent. */
  readonly close: (reason: { readonly failed: boolean; readonly message: string }) => Effect.Effect<void>
}

export class Publisher extends Context.Service<Publisher, {
  readonly open: (request: PublishRequest) => Effect.Effect<Publication, PublishRejected>
}>()("capstan/media/Publisher") {}
