/**
 * Sample-based audio over RTP (RFC 3551 4.3): G.711 (4.5.14, payload types 8 PCMA and 0 PCMU) and G.722 (4.5.2,
 * payload type 9). Each packet's payload is a whole number of samples, so it is one frame, passed on as it is.
 * One depacketizer serves all three: they differ only in what a byte means (one 8 kHz sample, or two 16 kHz
 * samples for G.722), never in how the payload is laid out, and their RTP clocks all tick at 8000 Hz.
 */
import type { Depacketizer, RtpFrame } from "./depacketizer.ts"
import type { RtpPacket } from "./rtp-packet.ts"

/** Every packet is one frame (a copy: the packet's buffer is not kept alive); its timestamp is its first sample's. */
export class SampleAudioDepacketizer implements Depacketizer {
  malformed = 0
  readonly dropped = 0
  lastProblem: string | undefined

  push(packet: RtpPacket): Array<RtpFrame> {
    if (packet.payload.length === 0) {
      this.malformed++
      this.lastProblem = "empty payload"
      return []
    }
    return [{ timestamp: packet.timestamp, keyframe: true, data: new Uint8Array(packet.payload) }]
  }
}
