/**
 * Wires the remote tracks of one werift peer connection to TrackReceivers: RTP and sender reports in, key frame
 * requests (PLI through werift, FIR built here) out. One track per kind is recorded (the core model has one video
 * and one audio track); a further section of the same kind is ignored. werift calls these handlers from its packet
 * loop, so each one is guarded: a bug here ends this session, never the server.
 */
import type { MediaStreamTrack, RtcpPacket, RTCRtpTransceiver } from "werift"
import { RtcpSrPacket } from "werift"
import type { TrackKind } from "../../media/frame.ts"
import type { AvSync } from "./av-sync.ts"
import { serializeFullIntraRequest } from "./full-intra-request.ts"
import { codecSpecOfMimeType } from "./ingest-codecs.ts"
import { type KeyframeReason, KeyframeRequests } from "./keyframe-requests.ts"
import { TrackReceiver } from "./track-receiver.ts"

export interface RemoteTrackHooks {
  readonly sync: AvSync
  /** Wall-clock milliseconds (from Effect's Clock). */
  readonly now: () => number
  readonly onProblem: (reason: string) => void
  /** A handler threw: the session must end as failed. */
  readonly onCrash: (reason: string) => void
  readonly reorderWaitMs?: number
}

export interface AttachedTrack {
  readonly receiver: TrackReceiver
  readonly ssrc: number
  readonly keyframes: KeyframeRequests | undefined
}

export class RemoteTracks {
  readonly attached = new Map<TrackKind, AttachedTrack>()
  /** Wall-clock time of the last RTP packet of any track; undefined before the first. */
  lastPacketMs: number | undefined
  readonly #hooks: RemoteTrackHooks
  readonly #unsubscribe: Array<() => void> = []
  #stopped = false
  #connected = false
  #pendingKeyframe: KeyframeReason | undefined

  constructor(hooks: RemoteTrackHooks) {
    this.#hooks = hooks
  }

  /** Starts receiving a remote track of `transceiver`. */
  attach(track: MediaStreamTrack, transceiver: RTCRtpTransceiver): void {
    const kind = track.kind
    if (this.#stopped || (kind !== "audio" && kind !== "video") || this.attached.has(kind)) return
    const codec = track.codec ?? transceiver.codecs[0]
    const spec = codec && codecSpecOfMimeType(codec.mimeType, codec.clockRate)
    if (codec === undefined || spec === undefined || codec.payloadType === undefined || track.ssrc === undefined) {
      return this.#hooks.onProblem(`a ${kind} track with codec ${codec?.mimeType ?? "none"} that cannot be recorded`)
    }
    const ssrc = track.ssrc
    const keyframes = kind === "video" ? this.#keyframeRequests(transceiver, ssrc) : undefined
    const receiver = new TrackReceiver({
      spec,
      payloadType: codec.payloadType,
      sync: this.#hooks.sync,
      requestKeyframe: (reason) => keyframes?.request(reason, this.#hooks.now()),
      onProblem: this.#hooks.onProblem,
      reorderWaitMs: this.#hooks.reorderWaitMs
    })
    this.attached.set(kind, { receiver, ssrc, keyframes })
    const rtp = track.onReceiveRtp.subscribe((packet) =>
      this.#guard(() => {
        if (this.#stopped) return
        const now = this.#hooks.now()
        this.lastPacketMs = now
        receiver.rtp(packet, now)
      })
    )
    const rtcp = track.onReceiveRtcp.subscribe((packet) =>
      this.#guard(() => {
        if (this.#stopped || packet.type !== RtcpSrPacket.type) return
        const { ntpTimestamp, rtpTimestamp } = packet.senderInfo
        receiver.senderReport(ntpTimestamp, rtpTimestamp, this.#hooks.now())
      })
    )
    this.#unsubscribe.push(rtp.unSubscribe, rtcp.unSubscribe)
  }

  /**
   * Asks the video sender for a key frame (the session's request or the periodic timer). Before DTLS is up nothing
   * can be sent: the request waits for `connected()`.
   */
  requestKeyframe(reason: KeyframeReason): void {
    if (!this.#connected) {
      this.#pendingKeyframe = reason
      return
    }
    this.attached.get("video")?.keyframes?.request(reason, this.#hooks.now())
  }

  /** The connection is up: a key frame request made before is sent now. */
  connected(): void {
    this.#connected = true
    const pending = this.#pendingKeyframe
    this.#pendingKeyframe = undefined
    if (pending !== undefined) this.requestKeyframe(pending)
  }

  /** Stops taking packets and passes on what the reorder buffers still hold. */
  stop(): void {
    if (this.#stopped) return
    this.#stopped = true
    for (const unsubscribe of this.#unsubscribe.splice(0)) unsubscribe()
    const now = this.#hooks.now()
    this.#guard(() => {
      for (const { receiver } of this.attached.values()) receiver.flush(now)
    })
  }

  #keyframeRequests(transceiver: RTCRtpTransceiver, ssrc: number): KeyframeRequests {
    const receiver = transceiver.receiver
    const firNegotiated = transceiver.codecs[0]?.rtcpFeedback.some((fb) => fb.type === "ccm" && fb.parameter === "fir")
    return new KeyframeRequests({
      sendPli: () => void receiver.sendRtcpPLI(ssrc),
      sendFir: firNegotiated
        ? (sequenceNumber) => {
          const bytes = serializeFullIntraRequest(receiver.rtcpSsrc, ssrc, sequenceNumber)
          // werift's sendRtcp only calls serialize() on each packet.
          const packet = { serialize: () => bytes } as unknown as RtcpPacket
          receiver.dtlsTransport.sendRtcp([packet]).catch(() => undefined)
        }
        : undefined
    })
  }

  #guard(body: () => void): void {
    try {
      body()
    } catch (error) {
      const detail = error instanceof Error ? error.stack ?? error.message : String(error)
      this.#hooks.onCrash(`internal error while receiving: ${detail}`)
    }
  }
}
