/**
 * G.711 over RTP (RFC 3551 4.5.14, payload types 8 PCMA and 0 PCMU, 8000 Hz): each packet's payload is one frame of
 * 8-bit samples, passed on as it is.
 */
import type { Depacketizer, RtpFrame } from "./depacketizer.ts"
import type { RtpPacket } from "./rtp-packet.ts"

/** Every packet is one frame (a copy: the packet's buffer is not kept alive); its timestamp is its first sample's. */
export class G711Depacketizer implements Depacketizer {
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
