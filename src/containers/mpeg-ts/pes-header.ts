/**
 * PES packet headers (ISO/IEC 13818-1 2.4.3.6 and 2.4.3.7) with PTS and, when it differs, DTS on the 90 kHz clock.
 *
 *   00 00 01 | stream_id | PES_packet_length(16) | '10' scrambling(2) prio align(1) copyright original
 *   | PTS_DTS_flags(2) ESCR ES_rate trick additional_copy CRC extension | PES_header_data_length
 *   | '0011' or '0010' PTS[32..30] 1 PTS[29..15] 1 PTS[14..0] 1 | ['0001' DTS ... likewise]
 */

export const STREAM_ID_VIDEO = 0xe0
export const STREAM_ID_AUDIO = 0xc0

/** Timestamps are 33-bit counters that wrap (2.4.3.7). */
const TIMESTAMP_MODULUS = 2 ** 33

const writeTimestamp = (out: Uint8Array, at: number, prefix: number, value: number): void => {
  const t = ((value % TIMESTAMP_MODULUS) + TIMESTAMP_MODULUS) % TIMESTAMP_MODULUS
  const high = Math.floor(t / 2 ** 30) // bits 32..30
  const middle = Math.floor(t / 2 ** 15) & 0x7fff // bits 29..15
  const low = t & 0x7fff // bits 14..0
  out[at] = (prefix << 4) | (high << 1) | 1
  out[at + 1] = middle >> 7
  out[at + 2] = ((middle & 0x7f) << 1) | 1
  out[at + 3] = low >> 7
  out[at + 4] = ((low & 0x7f) << 1) | 1
}

/**
 * The header of a PES packet whose payload is `payloadLength` bytes. Video may leave PES_packet_length 0
 * ("unbounded", 2.4.3.7); audio gives the length, which must fit in 16 bits.
 */
export const pesHeader = (
  streamId: number,
  pts90k: number,
  dts90k: number,
  payloadLength: number,
  bounded: boolean
): Uint8Array => {
  const withDts = dts90k !== pts90k
  const dataLength = withDts ? 10 : 5
  const out = new Uint8Array(9 + dataLength)
  out[2] = 0x01
  out[3] = streamId
  const length = 3 + dataLength + payloadLength
  const packetLength = bounded && length <= 0xffff ? length : 0
  out[4] = packetLength >> 8
  out[5] = packetLength & 0xff
  out[6] = 0x84 // '10', not scrambled, data_alignment_indicator: the payload starts with an access unit
  out[7] = withDts ? 0xc0 : 0x80
  out[8] = dataLength
  writeTimestamp(out, 9, withDts ? 0b0011 : 0b0010, pts90k)
  if (withDts) writeTimestamp(out, 14, 0b0001, dts90k)
  return out
}
