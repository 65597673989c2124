/**
 * RTCP compound packets (RFC 3550 6.1), checked only as far as the validity test of RFC 3550 A.2: the pull ignores
 * RTCP's content but counts compounds that are malformed. Also tells RTCP from RTP on a multiplexed channel.
 *
 *   0                   1                   2                   3
 *   0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *  |V=2|P|    RC   |      PT       |             length            |  length: 32-bit words minus one
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 */

/** Sender and receiver reports: a compound must start with one of them (RFC 3550 6.1). */
const SR = 200
const RR = 201

/** RTCP packet types 192-223 cannot be RTP payload types 64-95 with the marker set (RFC 5761 4). */
export const looksLikeRtcp = (data: Uint8Array): boolean => data.length >= 2 && data[1]! >= 192 && data[1]! <= 223

/** Why `data` is not a valid RTCP compound packet, or undefined when it is one. */
export const rtcpProblem = (data: Uint8Array): string | undefined => {
  if (data.length < 4) return `${data.length} bytes, shorter than an RTCP header`
  const first = data[1]!
  if (first !== SR && first !== RR) return `compound starts with packet type ${first}, not SR or RR`
  let offset = 0
  while (offset < data.length) {
    if (offset + 4 > data.length) return `truncated RTCP header at byte ${offset}`
    if (data[offset]! >> 6 !== 2) return `RTCP version ${data[offset]! >> 6} at byte ${offset}`
    const length = (((data[offset + 2]! << 8) | data[offset + 3]!) + 1) * 4
    if (offset + length > data.length) return `RTCP packet at byte ${offset} runs past the compound`
    const padded = (data[offset]! & 0x20) !== 0
    offset += length
    if (padded && offset !== data.length) return "padding on an RTCP packet that is not the last"
  }
  return undefined
}
