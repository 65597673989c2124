/**
 * One pulled media on one connection: RTP packets in (from an interleaved channel or a UDP socket), frames out.
 * Parses each packet, checks its payload type, reorders by sequence number and depacketizes, counting what it
 * drops. Plain synchronous code on the per-packet path; a new connection gets new receivers.
 */
import type { Track } from "../../media/frame.ts"
import { AacDepacketizer } from "../rtp/aac-depacketizer.ts"
import type { Depacketizer, RtpFrame } from "../rtp/depacketizer.ts"
import { H264Depacketizer } from "../rtp/h264-depacketizer.ts"
import { rtcpProblem } from "../rtp/rtcp-packet.ts"
import { parseRtpPacket, rtpProblem } from "../rtp/rtp-packet.ts"
import { type ReorderOptions, RtpReorderBuffer } from "../rtp/reorder-buffer.ts"
import { SampleAudioDepacketizer } from "../rtp/sample-audio-depacketizer.ts"
import type { PullMedia } from "./pull-media.ts"

/** Where a receiver reports: counters, problems for the log, and the frames it completed. */
export interface ReceiverSink {
  readonly packet: (nowMs: number) => void
  readonly lost: (count: number) => void
  /** One malformed packet (RTP, RTCP or payload), with why. */
  readonly problem: (problem: string) => void
  readonly frames: (receiver: MediaReceiver, frames: ReadonlyArray<RtpFrame>, nowMs: number) => void
}

const makeDepacketizer = (media: PullMedia): Depacketizer =>
  media.kind === "video"
    ? new H264Depacketizer(media.parameterSets)
    : media.codec === "AAC"
    ? new AacDepacketizer(media.aac)
    : new SampleAudioDepacketizer()

export class MediaReceiver {
  readonly media: PullMedia
  readonly #sink: ReceiverSink
  readonly #reorder: RtpReorderBuffer
  readonly #depacketizer: Depacketizer
  #reportedMalformed = 0
  #reportedLost = 0

  constructor(media: PullMedia, sink: ReceiverSink, reorder?: ReorderOptions) {
    this.media = media
    this.#sink = sink
    this.#reorder = new RtpReorderBuffer(reorder)
    this.#depacketizer = makeDepacketizer(media)
  }

  /** Changes whenever the track this media describes may have changed (new in-band SPS/PPS). */
  get trackVersion(): number {
    return this.#depacketizer instanceof H264Depacketizer ? this.#depacketizer.parameterVersion : 0
  }

  /** The track to declare, once its decoder configuration is known. */
  track(): Track | undefined {
    const media = this.media
    if (media.kind === "audio") {
      const { codec, clockRate, sampleRate, channels, config } = media
      return { kind: "audio", codec, timescale: clockRate, sampleRate, channels, config }
    }
    const config = (this.#depacketizer as H264Depacketizer).config
    if (config === undefined) return undefined
    const { avcC, width, height } = config
    return { kind: "video", codec: "H264", timescale: media.clockRate, width, height, config: avcC }
  }

  /** One RTP packet of this media. */
  rtp(data: Uint8Array, nowMs: number): void {
    this.#sink.packet(nowMs)
    const packet = parseRtpPacket(data)
    if (packet === undefined) return this.#sink.problem(`malformed RTP: ${rtpProblem(data)}`)
    if (packet.payloadType !== this.media.payloadType) {
      return this.#sink.problem(`RTP payload type ${packet.payloadType}, expected ${this.media.payloadType}`)
    }
    const ordered = this.#reorder.push(packet, nowMs)
    for (const next of ordered) {
      const frames = this.#depacketizer.push(next)
      if (frames.length > 0) this.#sink.frames(this, frames, nowMs)
    }
    this.#report()
  }

  /** One RTCP compound of this media: only checked, its reports are not used. */
  rtcp(data: Uint8Array): void {
    const problem = rtcpProblem(data)
    if (problem !== undefined) this.#sink.problem(`malformed RTCP: ${problem}`)
  }

  /** The connection ended: packets still held for reordering are given up. */
  close(): void {
    this.#reorder.flush()
    this.#report()
  }

  #report(): void {
    const depacketizer = this.#depacketizer
    while (this.#reportedMalformed < depacketizer.malformed) {
      this.#reportedMalformed++
      this.#sink.problem(`malformed ${this.media.codec} payload: ${depacketizer.lastProblem ?? "unknown"}`)
    }
    if (this.#reorder.lost !== this.#reportedLost) {
      this.#sink.lost(this.#reorder.lost - this.#reportedLost)
      this.#reportedLost = this.#reorder.lost
    }
  }
}
