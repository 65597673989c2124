/**
 * Wraps Opus packets in an Ogg stream (RFC 3533, RFC 7845) so that ffmpeg can decode them from a pipe: an OpusHead
 * page, an OpusTags page, then one page per packet carrying the granule position at its end (pre-skip included).
 */
import { OPUS_RATE } from "./opus-packet.ts"

/** header_type_flag (RFC 3533 6): the first page of a logical bitstream. */
const BEGINNING_OF_STREAM = 0x02
const PAGE_HEADER = 27
const VENDOR = new TextEncoder().encode("capstan")
/**
 * The pre-skip written in OpusHead: libopus's lookahead (2.5 ms + 4 ms delay compensation at 48 kHz), what WebRTC
 * senders run and what ffmpeg's libopus wrapper writes. RTP timestamps carry the capture time of a packet's first
 * sample, and the decoder's output lags it by this much; skipping it puts the decoded audio on the RTP timeline
 * (measured with beeps: 6.5 ms late without it, 0 with it).
 */
export const OPUS_PRE_SKIP = 312

/** CRC-32 of Ogg pages (RFC 3533 6, "CRC_checksum"): polynomial 0x04c11db7, no reflection, initial value 0. */
const CRC_TABLE = (() => {
  const table = new Uint32Array(256)
  for (let i = 0; i < 256; i++) {
    let r = i << 24
    for (let bit = 0; bit < 8; bit++) r = r & 0x80000000 ? (r << 1) ^ 0x04c11db7 : r << 1
    table[i] = r >>> 0
  }
  return table
})()

export const oggCrc = (bytes: Uint8Array): number => {
  let crc = 0
  for (let i = 0; i < bytes.length; i++) crc = ((crc << 8) ^ CRC_TABLE[((crc >>> 24) ^ bytes[i]!) & 0xff]!) >>> 0
  return crc
}

/**
 * One Ogg page holding one whole packet (RFC 3533 6). The segment table laces the packet into 255-byte segments
 * ending with one shorter than 255, so packets up to 255 * 255 - 1 bytes fit; Opus packets are far smaller.
 */
export const oggPage = (
  packet: Uint8Array,
  granule: number,
  serial: number,
  sequence: number,
  flags = 0
): Uint8Array => {
  const segments = Math.floor(packet.length / 255) + 1
  const page = new Uint8Array(PAGE_HEADER + segments + packet.length)
  const view = new DataView(page.buffer)
  page.set([0x4f, 0x67, 0x67, 0x53]) // "OggS"
  page[4] = 0 // stream_structure_version
  page[5] = flags
  view.setBigInt64(6, BigInt(granule), true)
  view.setUint32(14, serial, true)
  view.setUint32(18, sequence, true)
  page[26] = segments
  page.fill(255, PAGE_HEADER, PAGE_HEADER + segments - 1)
  page[PAGE_HEADER + segments - 1] = packet.length % 255
  page.set(packet, PAGE_HEADER + segments)
  view.setUint32(22, oggCrc(page), true)
  return page
}

/** The identification header (RFC 7845 5.1): version 1, unity gain, channel mapping family 0. */
export const opusHead = (channels: number, preSkip = OPUS_PRE_SKIP): Uint8Array => {
  const head = new Uint8Array(19)
  const view = new DataView(head.buffer)
  head.set(new TextEncoder().encode("OpusHead"))
  head[8] = 1
  head[9] = channels
  view.setUint16(10, preSkip, true)
  view.setUint32(12, OPUS_RATE, true)
  view.setInt16(16, 0, true)
  head[18] = 0
  return head
}

/** The comment header (RFC 7845 5.2): a vendor string and no user comments. */
export const opusTags = (): Uint8Array => {
  const tags = new Uint8Array(8 + 4 + VENDOR.length + 4)
  const view = new DataView(tags.buffer)
  tags.set(new TextEncoder().encode("OpusTags"))
  view.setUint32(8, VENDOR.length, true)
  tags.set(VENDOR, 12)
  view.setUint32(12 + VENDOR.length, 0, true)
  return tags
}

/** Builds one Ogg Opus stream page by page; the caller sends the bytes wherever they go. */
export class OggOpusWriter {
  readonly #serial: number
  #sequence = 0
  /** Samples (48 kHz) of every packet written so far: the granule position of the last page. */
  #granule = 0

  constructor(serial: number) {
    this.#serial = serial >>> 0
  }

  /** The two header pages, which must come first. */
  headers(channels: number): Uint8Array {
    const head = oggPage(opusHead(channels), 0, this.#serial, this.#sequence++, BEGINNING_OF_STREAM)
    const tags = oggPage(opusTags(), 0, this.#serial, this.#sequence++)
    const both = new Uint8Array(head.length + tags.length)
    both.set(head)
    both.set(tags, head.length)
    return both
  }

  /** A page with one audio packet of `samples` 48 kHz samples. */
  packet(packet: Uint8Array, samples: number): Uint8Array {
    this.#granule += samples
    return oggPage(packet, this.#granule, this.#serial, this.#sequence++)
  }
}
