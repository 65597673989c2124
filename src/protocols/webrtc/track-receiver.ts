/**
 * One received WebRTC track turned into core frames: RTP packets go through the reorder buffer, video packets are
 * assembled into whole frames and depacketized by werift (RFC 6184, RFC 7741), each frame gets its track
 * configuration (avcC from in-band SPS/PPS; VP8 size from its key frame header) and its place on the track's RTP
 * timeline, and goes to the publication's AvSync. After a loss, video waits for the next key frame and asks for one.
 * Plain synchronous code: it runs in werift's packet callbacks.
 */
import type { RtpPacket } from "werift"
import { dePacketizeRtpPackets } from "werift"
import type { Track, TrackKind } from "../../media/frame.ts"
import type { AvSync } from "./av-sync.ts"
import { FrameAssembler, h264StartsFrame, vp8StartsFrame } from "./frame-assembler.ts"
import { H264AccessUnits } from "./h264-access-unit.ts"
import type { CodecSpec } from "./ingest-codecs.ts"
import type { KeyframeReason } from "./keyframe-requests.ts"
import { ReorderBuffer } from "./reorder-buffer.ts"
import { RtpTimeline } from "./rtp-timeline.ts"
import { parseVp8FrameHeader } from "./vp8-frame-header.ts"

export interface TrackReceiverStats {
  packets: number
  frames: number
  /** Packets or frames that could not be read (bad payloads, unknown payload types); each dropped. */
  malformed: number
  /** Video frames dropped while waiting for a key frame (after a loss, or before the first one). */
  awaitingKeyframe: number
}

export interface TrackReceiverOptions {
  readonly spec: CodecSpec
  /** The payload type negotiated for `spec`; packets of other types are dropped. */
  readonly payloadType: number
  readonly sync: AvSync
  /** Asks the sender for a key frame (video only). */
  readonly requestKeyframe: (reason: KeyframeReason) => void
  /** Called with a short reason whenever something is dropped as malformed (for rate-limited logging). */
  readonly onProblem: (reason: string) => void
  readonly reorderWaitMs?: number
}

export class TrackReceiver {
  readonly kind: TrackKind
  readonly spec: CodecSpec
  readonly stats: TrackReceiverStats = { packets: 0, frames: 0, malformed: 0, awaitingKeyframe: 0 }
  readonly reorder: ReorderBuffer<RtpPacket>
  readonly assembler: FrameAssembler<RtpPacket> | undefined
  readonly timeline: RtpTimeline
  readonly #options: TrackReceiverOptions
  readonly #h264 = new H264AccessUnits()
  #track: Track | undefined
  #awaitingKeyframe = true

  constructor(options: TrackReceiverOptions) {
    this.#options = options
    this.spec = options.spec
    this.kind = options.spec.kind
    this.reorder = new ReorderBuffer<RtpPacket>({ maxWaitMs: options.reorderWaitMs ?? 250 })
    this.timeline = new RtpTimeline(options.spec.clockRate)
    this.assembler = this.kind === "video"
      ? new FrameAssembler<RtpPacket>(options.spec.codec === "H264" ? h264StartsFrame : vp8StartsFrame)
      : undefined
    if (this.kind === "audio") {
      this.#track = {
        kind: "audio",
        codec: options.spec.codec as "OPUS" | "PCMA" | "PCMU",
        timescale: options.spec.clockRate,
        sampleRate: options.spec.clockRate,
        channels: options.spec.channels,
        config: new Uint8Array(0)
      }
    }
  }

  /** The track as last configured (undefined for video before its first decodable key frame). */
  get track(): Track | undefined {
    return this.#track
  }

  /** Whether video is waiting for a key frame before it passes frames on again. */
  get awaitingKeyframe(): boolean {
    return this.kind === "video" && this.#awaitingKeyframe
  }

  rtp(packet: RtpPacket, arrivalMs: number): void {
    this.stats.packets++
    if (packet.header.payloadType !== this.#options.payloadType) {
      return this.#problem(`unexpected payload type ${packet.header.payloadType}`)
    }
    for (const out of this.reorder.push(packet.header.sequenceNumber, packet, arrivalMs)) {
      if (out._tag === "Lost") this.#lost()
      else this.#inOrder(out.packet, arrivalMs)
    }
  }

  /** An RTCP sender report of this track's SSRC (RFC 3550 6.4.1). */
  senderReport(ntpTimestamp: bigint, rtpTimestamp: number, arrivalMs: number): void {
    const ticks = this.timeline.place(rtpTimestamp)
    if (ticks === undefined) return
    const ntpSeconds = Number(ntpTimestamp >> 32n) + Number(ntpTimestamp & 0xffffffffn) / 2 ** 32
    this.#options.sync.senderReport(this.kind, ntpSeconds, ticks, arrivalMs)
  }

  /** The stream ended: whatever waits in the reorder buffer is passed on. */
  flush(arrivalMs: number): void {
    for (const out of this.reorder.flush()) {
      if (out._tag === "Lost") this.#lost()
      else this.#inOrder(out.packet, arrivalMs)
    }
  }

  #lost(): void {
    if (this.assembler === undefined) return
    this.assembler.lost()
    this.#awaitingKeyframe = true
    this.#options.requestKeyframe("loss")
  }

  #inOrder(packet: RtpPacket, arrivalMs: number): void {
    // Padding-only packets (RFC 3550 5.1; senders probe bandwidth with them) hold a sequence number and no media.
    if (packet.payload.length === 0) return
    if (this.assembler === undefined) {
      this.#emit(packet.header.timestamp, true, packet.payload.slice(), arrivalMs)
      return
    }
    const frame = this.assembler.push(packet)
    if (frame !== undefined) this.#videoFrame(frame.timestamp, frame.packets, arrivalMs)
  }

  #videoFrame(timestamp: number, packets: ReadonlyArray<RtpPacket>, arrivalMs: number): void {
    let data: Uint8Array
    try {
      data = dePacketizeRtpPackets(this.spec.depacketizer, packets as Array<RtpPacket>).data
    } catch (error) {
      const detail = error instanceof Error ? error.message : String(error)
      return this.#unreadable(`undecodable ${this.spec.codec} payload: ${detail}`)
    }
    if (data.length === 0) return this.#unreadable(`empty ${this.spec.codec} frame`)
    let keyframe: boolean
    if (this.spec.codec === "H264") {
      const unit = this.#h264.convert(data)
      if (unit._tag === "Skip") return this.#waitForKeyframe()
      if (unit.config !== undefined) {
        const { avcC, width, height } = unit.config
        this.#track = { kind: "video", codec: "H264", timescale: 90_000, width, height, config: avcC }
      }
      keyframe = unit.keyframe
      data = unit.data
    } else {
      const header = parseVp8FrameHeader(data)
      if (header === undefined) return this.#unreadable("a VP8 frame without a valid frame header")
      keyframe = header.keyframe
      if (header.keyframe) {
        const { width, height } = header
        const track = this.#track
        if (track?.kind !== "video" || track.width !== width || track.height !== height) {
          this.#track = { kind: "video", codec: "VP8", timescale: 90_000, width, height, config: new Uint8Array(0) }
        }
      }
    }
    if (this.#awaitingKeyframe && !keyframe) return this.#waitForKeyframe()
    this.#awaitingKeyframe = false
    this.#emit(timestamp, keyframe, data, arrivalMs)
  }

  #emit(timestamp: number, keyframe: boolean, data: Uint8Array, arrivalMs: number): void {
    const track = this.#track!
    this.stats.frames++
    this.#options.sync.frame(this.kind, track, this.timeline.advance(timestamp, arrivalMs), keyframe, data, arrivalMs)
  }

  #waitForKeyframe(): void {
    this.stats.awaitingKeyframe++
    this.#awaitingKeyframe = true
    this.#options.requestKeyframe("waiting")
  }

  #unreadable(reason: string): void {
    this.#problem(reason)
    this.#waitForKeyframe()
  }

  #problem(reason: string): void {
    this.stats.malformed++
    this.#options.onProblem(reason)
  }
}
