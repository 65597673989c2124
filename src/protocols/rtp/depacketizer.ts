/**
 * What every RTP depacketizer (H.264, AAC, G.711/G.722, later VP8/Opus) shares: a pure step function from the next
 * in-order packet to the frames it completes, with counters for what it had to drop.
 */
import type { RtpPacket } from "./rtp-packet.ts"

/** One frame in RTP terms: its 32-bit RTP timestamp (the media clock, wrapping) and the codec's frame bytes. */
export interface RtpFrame {
  readonly timestamp: number
  readonly keyframe: boolean
  /** H.264: AVCC (4-byte lengths); AAC: one raw access unit; G.711/G.722: the samples. */
  readonly data: Uint8Array
}

export interface Depacketizer {
  /**
   * Takes the next packet in sequence order (after the reorder buffer) and returns the frames it completes.
   * A sequence gap tells the depacketizer that packets were lost. Never throws.
   */
  readonly push: (packet: RtpPacket) => Array<RtpFrame>
  /** Packets dropped because their payload is malformed or of a kind not supported. */
  readonly malformed: number
  /** Frames dropped because a packet they needed was lost. */
  readonly dropped: number
  /** Why the most recent malformed packet was dropped, for a rate-limited log line. */
  readonly lastProblem: string | undefined
}

/** Whether `seq` directly follows `previous` (16-bit, wrapping); true for the first packet. */
export const followsInSequence = (previous: number | undefined, seq: number): boolean =>
  previous === undefined || ((previous + 1) & 0xffff) === seq
