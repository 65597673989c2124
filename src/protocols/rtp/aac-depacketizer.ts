/**
 * MPEG-4 AAC over RTP in the RFC 3640 generic format (mode=AAC-hbr, and AAC-lbr, which differs only in field sizes):
 * the AU header section (3.2.1) gives each access unit's size, the AUs follow back to back, and one AU too big for
 * a packet is fragmented over several packets with the same timestamp (3.2.3). AU i of a packet plays at
 * timestamp + i * 1024 (one AAC frame is 1024 samples, and the RTP clock is the sampling rate).
 *
 *  [AU-headers-length 16 bits] [AU-size(sizeLength) AU-index(indexLength)] [AU-size AU-index-delta]* [pad] [AUs]
 */
import { type Depacketizer, followsInSequence, type RtpFrame } from "./depacketizer.ts"
import type { RtpPacket } from "./rtp-packet.ts"

export interface AacHbrParameters {
  /** Bits of AU-size in each AU header (13 for AAC-hbr). */
  readonly sizeLength: number
  /** Bits of AU-Index in the first header (3 for AAC-hbr). */
  readonly indexLength: number
  /** Bits of AU-Index-delta in the following headers (3 for AAC-hbr). */
  readonly indexDeltaLength: number
}

export const AAC_HBR: AacHbrParameters = { sizeLength: 13, indexLength: 3, indexDeltaLength: 3 }

/** Samples in one AAC-LC access unit (ISO/IEC 14496-3 4.5.1.1, frameLengthFlag 0). */
export const AAC_FRAME_SAMPLES = 1024

const readBits = (data: Uint8Array, bit: number, count: number): number => {
  let value = 0
  for (let i = 0; i < count; i++, bit++) value = value * 2 + ((data[bit >> 3]! >> (7 - (bit & 7))) & 1)
  return value
}

export class AacDepacketizer implements Depacketizer {
  malformed = 0
  dropped = 0
  lastProblem: string | undefined
  readonly #parameters: AacHbrParameters
  readonly #frameSamples: number
  #previousSeq: number | undefined
  /** The fragmented AU being collected: its size, timestamp and the pieces so far. */
  #fragment: { size: number; timestamp: number; pieces: Array<Uint8Array>; received: number } | undefined

  constructor(parameters: AacHbrParameters = AAC_HBR, frameSamples = AAC_FRAME_SAMPLES) {
    this.#parameters = parameters
    this.#frameSamples = frameSamples
  }

  push(packet: RtpPacket): Array<RtpFrame> {
    const out: Array<RtpFrame> = []
    if (!followsInSequence(this.#previousSeq, packet.sequenceNumber) && this.#fragment !== undefined) {
      this.#fragment = undefined
      this.dropped++
    }
    this.#previousSeq = packet.sequenceNumber
    const payload = packet.payload
    const { sizeLength, indexLength, indexDeltaLength } = this.#parameters
    if (payload.length < 2) return this.#malformedPacket(out, "shorter than the AU-headers-length field")
    const headerBits = (payload[0]! << 8) | payload[1]!
    const dataStart = 2 + Math.ceil(headerBits / 8)
    if (dataStart > payload.length) return this.#malformedPacket(out, `AU headers of ${headerBits} bits do not fit`)
    const sizes: Array<number> = []
    let bit = 16
    while (bit - 16 < headerBits) {
      const indexBits = sizes.length === 0 ? indexLength : indexDeltaLength
      if (bit - 16 + sizeLength + indexBits > headerBits) return this.#malformedPacket(out, "AU header cut short")
      sizes.push(readBits(payload, bit, sizeLength))
      bit += sizeLength + indexBits
    }
    if (sizes.length === 0) return this.#malformedPacket(out, "no AU header")

    if (this.#fragment !== undefined) return this.#continueFragment(out, packet, sizes, payload.subarray(dataStart))
    if (sizes.includes(0)) return this.#malformedPacket(out, "empty access unit")
    const total = sizes.reduce((sum, size) => sum + size, 0)
    if (dataStart + total > payload.length) {
      if (sizes.length === 1 && !packet.marker) {
        const piece = payload.subarray(dataStart)
        this.#fragment = { size: total, timestamp: packet.timestamp, pieces: [piece], received: piece.length }
        return out
      }
      // Sizes that do not add up make every AU of the packet suspect: none is passed on.
      return this.#malformedPacket(out, `access units of ${total} bytes run past the packet`)
    }
    let offset = dataStart
    for (let i = 0; i < sizes.length; i++) {
      const size = sizes[i]!
      out.push({
        timestamp: (packet.timestamp + i * this.#frameSamples) >>> 0,
        keyframe: true,
        data: new Uint8Array(payload.subarray(offset, offset + size)) // a copy, even of a Buffer
      })
      offset += size
    }
    return out
  }

  /** A packet after the first fragment of an AU: one header with the whole AU's size, and the next piece. */
  #continueFragment(out: Array<RtpFrame>, packet: RtpPacket, sizes: Array<number>, piece: Uint8Array) {
    const fragment = this.#fragment!
    if (sizes.length !== 1 || sizes[0] !== fragment.size || packet.timestamp !== fragment.timestamp) {
      this.#fragment = undefined
      this.dropped++
      return this.#malformedPacket(out, "fragment does not continue the access unit before it")
    }
    fragment.pieces.push(piece)
    fragment.received += piece.length
    if (fragment.received < fragment.size && !packet.marker) return out
    this.#fragment = undefined
    if (fragment.received !== fragment.size) {
      this.dropped++
      return this.#malformedPacket(out, `fragments add up to ${fragment.received} bytes, not ${fragment.size}`)
    }
    const data = new Uint8Array(fragment.size)
    let offset = 0
    for (const part of fragment.pieces) {
      data.set(part, offset)
      offset += part.length
    }
    out.push({ timestamp: fragment.timestamp, keyframe: true, data })
    return out
  }

  #malformedPacket(out: Array<RtpFrame>, problem: string): Array<RtpFrame> {
    this.malformed++
    this.lastProblem = problem
    return out
  }
}
