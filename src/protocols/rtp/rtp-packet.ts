/**
 * The RTP fixed header (RFC 3550 5.1) with its CSRC list, header extension (5.3.1) and padding, parsed from one
 * datagram or interleaved frame. Transport-agnostic: RTSP (TCP or UDP) and WebRTC hand their packets here.
 *
 *   0                   1                   2                   3
 *   0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *  |V=2|P|X|  CC   |M|     PT      |       sequence number         |
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *  |                           timestamp                           |
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *  |           synchronization source (SSRC) identifier            |
 *  +=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+
 *  |            contributing source (CSRC) identifiers             |
 *  |                             ....                              |
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *  |      defined by profile       |           length              |  (X=1, 5.3.1)
 *  |                        header extension                       |
 */

export interface RtpPacket {
  readonly marker: boolean
  readonly payloadType: number
  /** 16-bit, wraps. */
  readonly sequenceNumber: number
  /** 32-bit unsigned, in the media clock rate; wraps. */
  readonly timestamp: number
  readonly ssrc: number
  readonly csrcs: ReadonlyArray<number>
  /** The extension's profile-defined 16 bits and its data, when X is set. */
  readonly extension: { readonly profile: number; readonly data: Uint8Array } | undefined
  /** The payload without header, extension or padding: a view into the input, not a copy. */
  readonly payload: Uint8Array
}

const FIXED_HEADER = 12

const u16 = (data: Uint8Array, at: number): number => (data[at]! << 8) | data[at + 1]!
const u32 = (data: Uint8Array, at: number): number =>
  ((data[at]! << 24) | (data[at + 1]! << 16) | (data[at + 2]! << 8) | data[at + 3]!) >>> 0

/** Why `data` is not an RTP packet, or undefined when it is one. Cheap enough for every packet. */
export const rtpProblem = (data: Uint8Array): string | undefined => {
  if (data.length < FIXED_HEADER) return `${data.length} bytes, shorter than the 12-byte RTP header`
  const version = data[0]! >> 6
  if (version !== 2) return `RTP version ${version}`
  let offset = FIXED_HEADER + (data[0]! & 0x0f) * 4
  if (offset > data.length) return "CSRC list runs past the packet"
  if ((data[0]! & 0x10) !== 0) {
    if (offset + 4 > data.length) return "header extension runs past the packet"
    offset += 4 + u16(data, offset + 2) * 4
    if (offset > data.length) return "header extension runs past the packet"
  }
  if ((data[0]! & 0x20) !== 0) {
    const padding = data[data.length - 1]!
    if (padding === 0 || offset + padding > data.length) return `padding of ${padding} bytes does not fit`
  }
  return undefined
}

/** Parses one RTP packet; undefined when it is malformed (see `rtpProblem` for why). */
export const parseRtpPacket = (data: Uint8Array): RtpPacket | undefined => {
  if (rtpProblem(data) !== undefined) return undefined
  const csrcCount = data[0]! & 0x0f
  const csrcs: Array<number> = []
  let offset = FIXED_HEADER
  for (let i = 0; i < csrcCount; i++, offset += 4) csrcs.push(u32(data, offset))
  let extension: RtpPacket["extension"]
  if ((data[0]! & 0x10) !== 0) {
    const length = u16(data, offset + 2) * 4
    extension = { profile: u16(data, offset), data: data.subarray(offset + 4, offset + 4 + length) }
    offset += 4 + length
  }
  const end = (data[0]! & 0x20) !== 0 ? data.length - data[data.length - 1]! : data.length
  return {
    marker: (data[1]! & 0x80) !== 0,
    payloadType: data[1]! & 0x7f,
    sequenceNumber: u16(data, 2),
    timestamp: u32(data, 4),
    ssrc: u32(data, 8),
    csrcs,
    extension,
    payload: data.subarray(offset, end)
  }
}

/** Builds an RTP packet (for tests and loopback peers): version 2, no padding. */
export const serializeRtpPacket = (packet: {
  readonly marker?: boolean
  readonly payloadType: number
  readonly sequenceNumber: number
  readonly timestamp: number
  readonly ssrc?: number
  readonly csrcs?: ReadonlyArray<number>
  readonly extension?: { readonly profile: number; readonly data: Uint8Array }
  readonly payload: Uint8Array
}): Uint8Array => {
  const csrcs = packet.csrcs ?? []
  const extensionLength = packet.extension === undefined ? 0 : 4 + Math.ceil(packet.extension.data.length / 4) * 4
  const out = new Uint8Array(FIXED_HEADER + csrcs.length * 4 + extensionLength + packet.payload.length)
  const view = new DataView(out.buffer)
  out[0] = 0x80 | (packet.extension === undefined ? 0 : 0x10) | csrcs.length
  out[1] = (packet.marker ? 0x80 : 0) | (packet.payloadType & 0x7f)
  view.setUint16(2, packet.sequenceNumber & 0xffff)
  view.setUint32(4, packet.timestamp >>> 0)
  view.setUint32(8, (packet.ssrc ?? 0x1234abcd) >>> 0)
  let offset = FIXED_HEADER
  for (const csrc of csrcs) {
    view.setUint32(offset, csrc >>> 0)
    offset += 4
  }
  if (packet.extension !== undefined) {
    view.setUint16(offset, packet.extension.profile)
    view.setUint16(offset + 2, (extensionLength - 4) / 4)
    out.set(packet.extension.data, offset + 4)
    offset += extensionLength
  }
  out.set(packet.payload, offset)
  return out
}
