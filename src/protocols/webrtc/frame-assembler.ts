/**
 * Groups the in-order RTP packets of a video stream into whole frames: a frame is the run of packets sharing one RTP
 * timestamp up to the one with the marker bit (RFC 6184 5.1, RFC 7741 4.1). A frame that lost a packet, lost its
 * marker or starts in the middle of a picture is dropped, never handed on half-built.
 */

export interface AssemblerPacket {
  readonly header: { readonly marker: boolean; readonly timestamp: number }
  readonly payload: Uint8Array
}

export interface AssembledFrame<P extends AssemblerPacket> {
  readonly timestamp: number
  readonly packets: ReadonlyArray<P>
}

export interface AssemblerStats {
  /** Frames handed on whole. */
  complete: number
  /** Frames dropped because packets were missing (lost, marker lost, or no frame start). */
  broken: number
}

export class FrameAssembler<P extends AssemblerPacket> {
  readonly stats: AssemblerStats = { complete: 0, broken: 0 }
  readonly #startsFrame: (payload: Uint8Array) => boolean
  #packets: Array<P> = []
  #timestamp = 0
  #broken = false
  /** The timestamp of a frame known to have lost packets: more packets of it are broken too. */
  #lostTimestamp: number | undefined

  /** `startsFrame` tells whether a payload can begin a frame (an FU-A start, a VP8 partition head). */
  constructor(startsFrame: (payload: Uint8Array) => boolean) {
    this.#startsFrame = startsFrame
  }

  /** Takes the next packet in sequence order; returns a frame when this packet completed one. */
  push(packet: P): AssembledFrame<P> | undefined {
    const timestamp = packet.header.timestamp
    if (this.#packets.length > 0 && timestamp !== this.#timestamp) {
      // The previous frame never got its marker: its last packet is gone.
      this.#drop()
    }
    if (this.#packets.length === 0) {
      this.#timestamp = timestamp
      this.#broken = timestamp === this.#lostTimestamp || !this.#startsFrame(packet.payload)
    }
    this.#packets.push(packet)
    if (!packet.header.marker) return undefined
    if (this.#broken) {
      this.#drop()
      return undefined
    }
    const frame = { timestamp, packets: this.#packets }
    this.#packets = []
    this.stats.complete++
    return frame
  }

  /** Packets were lost just before the next one: the frame being built cannot be whole. */
  lost(): void {
    if (this.#packets.length > 0) {
      this.#broken = true
      this.#lostTimestamp = this.#timestamp
    }
  }

  #drop(): void {
    this.#packets = []
    this.#broken = false
    this.stats.broken++
  }
}

/** H.264 (RFC 6184 5.2, 5.8): a single NAL unit or STAP-A packet, or an FU-A with its start bit set. */
export const h264StartsFrame = (payload: Uint8Array): boolean => {
  if (payload.length < 1) return false
  const type = payload[0]! & 0x1f
  if (type >= 1 && type <= 24) return true
  return type === 28 && payload.length >= 2 && (payload[1]! & 0x80) !== 0
}

/** VP8 (RFC 7741 4.2): the payload descriptor's S bit with partition index 0. */
export const vp8StartsFrame = (payload: Uint8Array): boolean =>
  payload.length >= 1 && (payload[0]! & 0x10) !== 0 && (payload[0]! & 0x07) === 0
